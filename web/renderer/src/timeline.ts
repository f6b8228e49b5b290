// The timeline document (schema "reelforge.timeline/1"), as the server writes it. See docs/timeline-schema.md.
// `normalize` fills the defaults the server's pydantic model has, so a hand-written document may omit them.

export const SCHEMA = "reelforge.timeline/1";

export interface Motion {
  zoom_from: number;
  zoom_to: number;
  pan_from: [number, number];
  pan_to: [number, number];
}

export interface WordTiming {
  word: string;
  start: number;
  end: number;
}

export interface Cue {
  start: number; // seconds from the start of the video
  end: number;
  text: string; // lines separated by "\n"
  words: WordTiming[]; // absolute times, for karaoke highlighting
}

export type Layout = "still" | "clip" | "blend" | "pip" | "split";
/** `cover` scales and centre-crops; `blurfill` shows the whole clip over a blurred, darkened copy of itself. */
export type Fit = "cover" | "blurfill";

export type Ease = "linear" | "in" | "out" | "inout";

/** A layer's state at segment time `t` (seconds); see docs/timeline-schema.md, "Layers". */
export interface Keyframe {
  t: number;
  x: number; // the layer's centre, output pixels
  y: number;
  scale: number;
  opacity: number; // 0 or 1
  reveal: number; // 0..1 of the image drawn, from the left (reveal_axis x) or the top (y)
  ease: Ease; // from this keyframe to the next
}

/** An RGBA image moved over a segment by keyframes: icons, labels, arrows, counters. */
export interface Layer {
  image: string; // URL of an RGBA PNG, `width` x `height` at scale 1
  width: number;
  height: number;
  keyframes: Keyframe[];
  reveal_axis: "x" | "y";
  frames: string[]; // a counter's images (URLs), shown from frame_times[k] on
  frame_times: number[];
  name: string;
}

/** How a segment comes in after the previous one: `fade` through black, or an overlap of `transition_frames`. */
export type Transition = "fade" | "crossfade" | "slide" | "wipe" | "zoom";

export interface Segment {
  kind: "title" | "scene";
  index: number;
  start_frame: number;
  frames: number;
  image: string; // URL of the still
  motion: Motion;
  fade_in: number; // seconds
  fade_out: number;
  text: string | null; // the title drawn on a title card
  dim: number; // 0..1
  blur: number; // gaussian sigma, pixels of the still
  cues: Cue[];
  clip: string | null; // URL of a video clip
  clip_start: number; // seconds into the clip
  layout: Layout;
  fit: Fit; // how the clip fills its cell
  layers: Layer[]; // drawn in order over the picture, before the fades and the text
  transition: Transition;
  transition_frames: number; // D: frames of this segment that overlap the previous one's continuation
}

export interface AudioClip {
  path: string; // URL of a WAV
  start: number; // seconds
}

export interface AudioPlan {
  narration: AudioClip[];
  music: string | null;
  music_gain_db: number;
  duck_db: number;
  speech: [number, number][];
  loudness: number; // LUFS, integrated
  true_peak: number; // dBTP
}

export interface SubtitleStyle {
  font: string;
  size: number;
  margin_v: number;
  max_chars: number;
  burn: boolean;
  karaoke: boolean;
}

export interface Timeline {
  schema: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  title: string;
  segments: Segment[];
  cues: Cue[];
  subtitles: SubtitleStyle;
  audio: AudioPlan;
  credits: string[];
}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`timeline: ${what} must be an object`);
  return v as Json;
}

function num(o: Json, key: string, dflt?: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`timeline: '${key}' must be a number`);
  return v;
}

function int(o: Json, key: string, dflt?: number): number {
  const v = num(o, key, dflt);
  if (!Number.isInteger(v)) throw new Error(`timeline: '${key}' must be an integer`);
  return v;
}

function str(o: Json, key: string, dflt?: string | null): string | null {
  const v = o[key] === undefined ? dflt : o[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") throw new Error(`timeline: '${key}' must be a string`);
  return v;
}

function pair(v: unknown, dflt: [number, number]): [number, number] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === "number")) {
    throw new Error("timeline: a pan position must be [x, y]");
  }
  return [v[0] as number, v[1] as number];
}

function cue(v: unknown): Cue {
  const o = obj(v, "a cue");
  const words = Array.isArray(o.words) ? o.words.map((w) => obj(w, "a word")) : [];
  return {
    start: num(o, "start"),
    end: num(o, "end"),
    text: str(o, "text") ?? "",
    words: words.map((w) => ({ word: str(w, "word") ?? "", start: num(w, "start"), end: num(w, "end") })),
  };
}

const LAYOUTS: readonly Layout[] = ["still", "clip", "blend", "pip", "split"];
const EASES: readonly Ease[] = ["linear", "in", "out", "inout"];
const TRANSITIONS: readonly Transition[] = ["fade", "crossfade", "slide", "wipe", "zoom"];

function numbers(v: unknown, what: string): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new Error(`timeline: ${what} must be a list of numbers`);
  }
  return v as number[];
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new Error(`timeline: ${what} must be a list of URLs`);
  return v as string[];
}

function keyframe(v: unknown): Keyframe {
  const o = obj(v, "a keyframe");
  const ease = (str(o, "ease", "linear") ?? "linear") as Ease;
  if (!EASES.includes(ease)) throw new Error(`timeline: unknown ease '${ease}'`);
  const k: Keyframe = {
    t: num(o, "t"),
    x: num(o, "x"),
    y: num(o, "y"),
    scale: num(o, "scale", 1),
    opacity: num(o, "opacity", 1),
    reveal: num(o, "reveal", 1),
    ease,
  };
  if (k.opacity !== 0 && k.opacity !== 1) throw new Error("timeline: a keyframe's opacity is 0 or 1");
  if (!(k.scale > 0) || k.reveal < 0 || k.reveal > 1) throw new Error("timeline: a keyframe's scale is > 0, its reveal 0..1");
  return k;
}

function layer(v: unknown): Layer {
  const o = obj(v, "a layer");
  const axis = str(o, "reveal_axis", "x") ?? "x";
  if (axis !== "x" && axis !== "y") throw new Error(`timeline: unknown reveal_axis '${axis}'`);
  const kfs = Array.isArray(o.keyframes) ? o.keyframes.map(keyframe) : [];
  if (kfs.length === 0) throw new Error("timeline: a layer needs at least one keyframe");
  if (kfs.some((k, i) => i > 0 && k.t < kfs[i - 1].t)) throw new Error("timeline: a layer's keyframes must be in time order");
  const l: Layer = {
    image: str(o, "image") ?? "",
    width: int(o, "width"),
    height: int(o, "height"),
    keyframes: kfs,
    reveal_axis: axis,
    frames: strings(o.frames, "a layer's 'frames'"),
    frame_times: numbers(o.frame_times, "a layer's 'frame_times'"),
    name: str(o, "name", "") ?? "",
  };
  if (l.width < 2 || l.height < 2) throw new Error("timeline: a layer is at least 2 x 2 pixels");
  if (l.frames.length !== l.frame_times.length) throw new Error("timeline: a layer's frames and frame_times differ in length");
  return l;
}

/** Validate a parsed timeline document and fill in defaults; throws a clear Error when it is not one. */
export function normalize(doc: unknown): Timeline {
  const o = obj(doc, "the document");
  const schema = str(o, "schema", SCHEMA) ?? SCHEMA;
  if (schema !== SCHEMA) throw new Error(`timeline: unsupported schema '${schema}' (this renderer reads ${SCHEMA})`);
  const segs = o.segments;
  if (!Array.isArray(segs) || segs.length === 0) throw new Error("timeline: 'segments' must be a non-empty list");
  const subs = obj(o.subtitles ?? {}, "'subtitles'");
  const audio = obj(o.audio ?? {}, "'audio'");
  const tl: Timeline = {
    schema,
    width: int(o, "width"),
    height: int(o, "height"),
    fps: int(o, "fps"),
    frames: int(o, "frames"),
    title: str(o, "title") ?? "",
    segments: segs.map((s): Segment => {
      const so = obj(s, "a segment");
      const m = obj(so.motion ?? {}, "'motion'");
      const layout = (str(so, "layout", "still") ?? "still") as Layout;
      if (!LAYOUTS.includes(layout)) throw new Error(`timeline: unknown layout '${layout}'`);
      const fit = (str(so, "fit", "cover") ?? "cover") as Fit;
      if (fit !== "cover" && fit !== "blurfill") throw new Error(`timeline: unknown fit '${fit}'`);
      const transition = (str(so, "transition", "fade") ?? "fade") as Transition;
      if (!TRANSITIONS.includes(transition)) throw new Error(`timeline: unknown transition '${transition}'`);
      const kind = str(so, "kind") as Segment["kind"];
      if (kind !== "title" && kind !== "scene") throw new Error(`timeline: unknown segment kind '${kind}'`);
      return {
        kind,
        index: int(so, "index"),
        start_frame: int(so, "start_frame"),
        frames: int(so, "frames"),
        image: str(so, "image") ?? "",
        motion: {
          zoom_from: num(m, "zoom_from", 1.0),
          zoom_to: num(m, "zoom_to", 1.1),
          pan_from: pair(m.pan_from, [0.5, 0.5]),
          pan_to: pair(m.pan_to, [0.5, 0.5]),
        },
        fade_in: num(so, "fade_in", 0.25),
        fade_out: num(so, "fade_out", 0.25),
        text: str(so, "text", null),
        dim: num(so, "dim", 0),
        blur: num(so, "blur", 0),
        cues: Array.isArray(so.cues) ? so.cues.map(cue) : [],
        clip: str(so, "clip", null),
        clip_start: num(so, "clip_start", 0),
        layout,
        fit,
        layers: Array.isArray(so.layers) ? so.layers.map(layer) : [],
        transition,
        transition_frames: int(so, "transition_frames", 0),
      };
    }),
    cues: Array.isArray(o.cues) ? o.cues.map(cue) : [],
    subtitles: {
      font: str(subs, "font", "DejaVu Sans") ?? "DejaVu Sans",
      size: int(subs, "size", 0),
      margin_v: int(subs, "margin_v", 0),
      max_chars: int(subs, "max_chars", 42),
      burn: subs.burn === undefined ? true : Boolean(subs.burn),
      karaoke: Boolean(subs.karaoke ?? false),
    },
    audio: {
      narration: (Array.isArray(audio.narration) ? audio.narration : []).map((c) => {
        const co = obj(c, "a narration clip");
        return { path: str(co, "path") ?? "", start: num(co, "start") };
      }),
      music: str(audio, "music", null),
      music_gain_db: num(audio, "music_gain_db", -8),
      duck_db: num(audio, "duck_db", -16),
      speech: (Array.isArray(audio.speech) ? audio.speech : []).map((p) => pair(p, [0, 0])),
      loudness: num(audio, "loudness", -14),
      true_peak: num(audio, "true_peak", -1),
    },
    credits: Array.isArray(o.credits) ? o.credits.map(String) : [],
  };
  if (tl.width <= 0 || tl.height <= 0 || tl.width % 2 || tl.height % 2) {
    throw new Error(`timeline: the frame size ${tl.width}x${tl.height} must be positive and even`);
  }
  if (tl.fps <= 0 || tl.frames <= 0) throw new Error("timeline: 'fps' and 'frames' must be positive");
  let next = 0;
  for (const s of tl.segments) {
    if (s.start_frame !== next || s.frames < 1) {
      throw new Error(`timeline: segment ${s.index} starts at frame ${s.start_frame}; segments must be contiguous`);
    }
    next += s.frames;
  }
  for (const [i, s] of tl.segments.entries()) {
    if (i > 0 && s.transition !== "fade" && (s.transition_frames < 0 || s.transition_frames >= s.frames)) {
      throw new Error(
        `timeline: segment ${s.index}: its transition (${s.transition_frames} frames) must be shorter than the segment (${s.frames} frames)`,
      );
    }
  }
  if (next !== tl.frames) throw new Error(`timeline: the segments cover ${next} frames but 'frames' is ${tl.frames}`);
  return tl;
}

/** Resolve every asset reference (still, clip, layer images, narration, music) against a base URL. */
export function resolveUrls(tl: Timeline, base: string): Timeline {
  const abs = (u: string): string => new URL(u, base).href;
  return {
    ...tl,
    segments: tl.segments.map((s) => ({
      ...s,
      image: abs(s.image),
      clip: s.clip === null ? null : abs(s.clip),
      layers: s.layers.map((l) => ({ ...l, image: abs(l.image), frames: l.frames.map(abs) })),
    })),
    audio: {
      ...tl.audio,
      narration: tl.audio.narration.map((c) => ({ ...c, path: abs(c.path) })),
      music: tl.audio.music === null ? null : abs(tl.audio.music),
    },
  };
}
