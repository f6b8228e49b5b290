// Pure functions that mirror the server's renderer (src/reelforge/compose/*.py) number for number.
import type { AudioPlan, Cue, Motion, SubtitleStyle } from "./timeline";

/** Python's round(): halves go to the even neighbour. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** C's lrint() in the default rounding mode (halves to even), as ffmpeg's crop filter uses. */
export const lrint = pyRound;

/** The value a Python f-string "{x:.Nf}" puts into the ffmpeg graph (the server formats its coefficients). */
export function fixed(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

/** compose/subtitles.py style_metrics: (font size, vertical margin, max chars per line). */
export function styleMetrics(width: number, height: number, style: SubtitleStyle): [number, number, number] {
  const short = Math.min(width, height);
  const size = style.size || Math.max(14, pyRound(short * 0.058));
  if (height > width) return [size, style.margin_v || pyRound(height * 0.16), Math.min(style.max_chars, 26)];
  if (height === width) return [size, style.margin_v || pyRound(height * 0.08), Math.min(style.max_chars, 32)];
  return [size, style.margin_v || pyRound(height * 0.07), style.max_chars];
}

export interface Crop {
  sw: number; // the still scaled to sw x sh ...
  sh: number;
  x: number; // ... then cropped to the frame at (x, y)
  y: number;
}

/** Ken Burns for frame n (0-based, in the segment) of a segment of `frames` frames: compose/ffmpeg.py _still_chain
 * (scale to w*z rounded down to even, never below the frame; crop at (iw-w)*px, (ih-h)*py, aligned to chroma). */
export function kenBurns(m: Motion, n: number, frames: number, w: number, h: number): Crop {
  const span = Math.max(frames - 1, 1);
  const z = fixed(m.zoom_from, 5) + (fixed(m.zoom_to - m.zoom_from, 5) * n) / span;
  const px = fixed(m.pan_from[0], 4) + (fixed(m.pan_to[0] - m.pan_from[0], 4) * n) / span;
  const py = fixed(m.pan_from[1], 4) + (fixed(m.pan_to[1] - m.pan_from[1], 4) * n) / span;
  const sw = Math.max(w, Math.trunc((w * z) / 2) * 2);
  const sh = Math.max(h, Math.trunc((h * z) / 2) * 2);
  const cx = Math.min(Math.max(lrint((sw - w) * px), 0), sw - w) & ~1;
  const cy = Math.min(Math.max(lrint((sh - h) * py), 0), sh - h) & ~1;
  return { sw, sh, x: cx, y: cy };
}

export interface Window {
  x: number; // the part of the still (its own pixels) scaled to the frame
  y: number;
  w: number;
  h: number;
}

/** Ken Burns of a moving still as the server draws it (compose/ffmpeg.py _still_chain, ffmpeg's zoompan): at frame n
 * (n may pass the segment's end, for a transition) the zoom z (clamped to 1..10) shows a window of
 * trunc(iw/z) x trunc(ih/z) pixels of the still, at (iw − iw/z)·px, (ih − ih/z)·py clamped inside it, truncated
 * and then rounded down to even (4:2:0), scaled (bicubic) to the frame. */
export function zoompanWindow(m: Motion, n: number, frames: number, iw: number, ih: number): Window {
  const span = Math.max(frames - 1, 1);
  const z = Math.min(10, Math.max(1, fixed(m.zoom_from, 5) + (fixed(m.zoom_to - m.zoom_from, 5) * n) / span));
  const px = fixed(m.pan_from[0], 4) + (fixed(m.pan_to[0] - m.pan_from[0], 4) * n) / span;
  const py = fixed(m.pan_from[1], 4) + (fixed(m.pan_to[1] - m.pan_from[1], 4) * n) / span;
  const w = Math.trunc(iw * (1 / z));
  const h = Math.trunc(ih * (1 / z));
  const x = Math.trunc(Math.min(Math.max((iw - iw / z) * px, 0), Math.max(iw - w, 0))) & ~1;
  const y = Math.trunc(Math.min(Math.max((ih - ih / z) * py, 0), Math.max(ih - h, 0))) & ~1;
  return { x, y, w, h };
}

/** Does the still move? (The server scales and crops a still that does not once, by `kenBurns`.) */
export function moves(m: Motion): boolean {
  return m.zoom_from !== m.zoom_to || m.pan_from[0] !== m.pan_to[0] || m.pan_from[1] !== m.pan_to[1];
}

/** The brightness factor of ffmpeg's fade filters (to black) at segment time t, seconds. */
export function fadeFactor(t: number, duration: number, fadeIn: number, fadeOut: number): number {
  let f = 1;
  if (fadeIn > 0) {
    const d = fixed(fadeIn, 3);
    f *= Math.min(1, Math.max(0, t / d));
  }
  if (fadeOut > 0) {
    const st = fixed(Math.max(0, duration - fadeOut), 3);
    const d = fixed(fadeOut, 3);
    f *= 1 - Math.min(1, Math.max(0, (t - st) / d));
  }
  return f;
}

/** An ASS timestamp: centiseconds, as compose/subtitles.py _ass_time writes them. */
export function assCs(t: number): number {
  return pyRound(Math.max(t, 0) * 100);
}

/** Is an event spanning [start, end) seconds (segment-relative) shown at `nowMs`? (libass: start <= now < end) */
export function eventShown(start: number, end: number, nowMs: number): boolean {
  return nowMs >= assCs(start) * 10 && nowMs < assCs(end) * 10;
}

/** The title's \fad(fade, fade) opacity at `nowMs` into an event of `durMs` (libass interpolate_alpha). */
export function titleOpacity(nowMs: number, durMs: number, fadeMs: number): number {
  const t1 = 0;
  const t2 = fadeMs;
  const t3 = durMs - fadeMs;
  const t4 = durMs;
  let a: number;
  if (nowMs < t1) a = 255;
  else if (nowMs < t2) a = Math.trunc(255 * (1 - (nowMs - t1) / (t2 - t1)));
  else if (nowMs < t3) a = 0;
  else if (nowMs < t4) a = Math.trunc(255 * ((nowMs - t3) / (t4 - t3)));
  else a = 255;
  return 1 - a / 255;
}

/** compose/subtitles.py karaoke_text: for each word, the centisecond (from the cue start) at which it turns to the
 * highlight colour; null when the cue's lines don't split back into its timed words (shown plainly). */
export function karaokeMarks(c: Cue): number[] | null {
  const flat = c.text.split("\n").flatMap((line) => line.split(" "));
  if (c.words.length === 0 || flat.length !== c.words.length || flat.some((t, i) => t !== c.words[i].word)) {
    return null;
  }
  const marks = c.words.map((w) => Math.max(0, pyRound((w.start - c.start) * 100)));
  marks.push(Math.max(marks[marks.length - 1], pyRound((c.words[c.words.length - 1].end - c.start) * 100)));
  for (let i = 1; i < marks.length; i++) marks[i] = Math.max(marks[i], marks[i - 1]);
  return marks.slice(0, -1);
}

// ---- audio: compose/audio.py ----------------------------------------------------------------------------

export const ATTACK = 0.25;
export const RELEASE = 0.5;
export const MERGE_GAP = 1.2;

export function mergeIntervals(speech: [number, number][], gap = MERGE_GAP): [number, number][] {
  const merged: [number, number][] = [];
  const sorted = [...speech].sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  for (const [a, b] of sorted) {
    const last = merged[merged.length - 1];
    if (last && a - last[1] < gap) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged;
}

/** Piecewise-linear music gain in dB over time: compose/audio.py duck_breakpoints. */
export function duckBreakpoints(plan: AudioPlan): { ts: number[]; gs: number[] } {
  const base = plan.music_gain_db;
  const low = plan.music_gain_db + plan.duck_db;
  const ts = [0];
  const gs = [base];
  for (const [a, b] of mergeIntervals(plan.speech)) {
    const a0 = Math.max(a - ATTACK, ts[ts.length - 1]);
    ts.push(a0, Math.max(a, a0 + 1e-4), b, b + RELEASE);
    gs.push(base, low, low, base);
  }
  ts.push(Math.max(ts[ts.length - 1] + 1, 1e9));
  gs.push(base);
  return { ts, gs };
}

/** numpy.interp over the breakpoints. */
export function interp(t: number, ts: number[], gs: number[]): number {
  if (t <= ts[0]) return gs[0];
  for (let i = 1; i < ts.length; i++) {
    if (t <= ts[i]) {
      const span = ts[i] - ts[i - 1];
      return span > 0 ? gs[i - 1] + ((gs[i] - gs[i - 1]) * (t - ts[i - 1])) / span : gs[i];
    }
  }
  return gs[gs.length - 1];
}

// ---- H.264 level for a frame size and rate ----------------------------------------------------------------

const AVC_LEVELS: [string, number, number][] = [
  // [level as 2 hex digits, max macroblocks per frame, max macroblocks per second]
  ["1e", 1620, 40500], // 3.0
  ["1f", 3600, 108000], // 3.1
  ["20", 5120, 216000], // 3.2
  ["28", 8192, 245760], // 4.0
  ["2a", 8704, 522240], // 4.2
  ["32", 22080, 589824], // 5.0
  ["33", 36864, 983040], // 5.1
  ["34", 36864, 2073600], // 5.2
];

export function avcLevel(width: number, height: number, fps: number): string {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  for (const [lvl, fs, mbps] of AVC_LEVELS) if (mbs <= fs && mbs * fps <= mbps) return lvl;
  return "34";
}
