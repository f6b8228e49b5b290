// Titles and subtitles drawn like libass draws the server's ASS script (compose/subtitles.py to_ass):
// bold white text, a dark outline of `outline` px, a translucent black shadow offset by `shadow` px;
// subtitles bottom-centred `margin` px above the bottom edge, the title centred in the frame.
// libass sizes a font so that ascender + descender (the OS/2 win metrics) equal the ASS font size; the canvas
// sizes by the em, so the em is derived from the font's own ascent/descent ratio.
import { eventShown, karaokeMarks, pyRound, styleMetrics, titleOpacity } from "./math";
import type { Cue, Segment, Timeline } from "./timeline";

export const FAMILY = "ReelforgeSubtitles";
const KARAOKE = "#ffd700"; // ASS &H0000D7FF (BGR)

interface FontSet {
  add(face: FontFace): void;
}

/** Register the subtitle font (a TTF URL) with the document or worker; returns the CSS family to use. */
export async function loadFont(url: string | null | undefined, fallback: string): Promise<string> {
  if (!url) return `"${fallback}", "DejaVu Sans", sans-serif`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch the font ${url}: HTTP ${res.status}`);
  const face = new FontFace(FAMILY, await res.arrayBuffer(), { weight: "700" });
  await face.load();
  const scope = globalThis as unknown as { fonts?: FontSet; document?: { fonts: FontSet } };
  const fonts = scope.fonts ?? scope.document?.fonts;
  if (!fonts) throw new Error("this browser cannot register web fonts here (no FontFaceSet)");
  fonts.add(face);
  return `"${FAMILY}"`;
}

interface Look {
  size: number; // the ASS font size: one line is this many pixels tall
  outline: number;
  shadow: number;
  outlineColor: string;
  shadowAlpha: number;
}

type Ctx = OffscreenCanvasRenderingContext2D;

function context(c: OffscreenCanvas): Ctx {
  const ctx = c.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas context");
  return ctx;
}

export class TextPainter {
  private readonly w: number;
  private readonly h: number;
  private readonly family: string;
  private readonly sub: Look;
  private readonly title: Look;
  private readonly margin: number;
  private readonly side: number;
  private readonly karaoke: boolean;
  private readonly burn: boolean;
  private readonly layer: OffscreenCanvas;
  private readonly silhouette: OffscreenCanvas;
  private readonly cache = new Map<string, OffscreenCanvas>();
  private emRatio = 0; // (ascent + descent) / em
  private ascRatio = 0; // ascent / (ascent + descent)

  constructor(tl: Timeline, family: string) {
    this.w = tl.width;
    this.h = tl.height;
    this.family = family;
    const [size, margin] = styleMetrics(tl.width, tl.height, tl.subtitles);
    const outline = Math.max(1, pyRound(size * 0.07));
    this.sub = { size, outline, shadow: Math.max(1, Math.floor(outline / 2)), outlineColor: "#101010", shadowAlpha: (255 - 0x90) / 255 };
    this.title = { size: pyRound(size * 1.7), outline: outline + 1, shadow: outline, outlineColor: "#202020", shadowAlpha: (255 - 0xa0) / 255 };
    this.margin = margin;
    this.side = pyRound(tl.width * 0.08);
    this.karaoke = tl.subtitles.karaoke;
    this.burn = tl.subtitles.burn;
    this.layer = new OffscreenCanvas(tl.width, tl.height);
    this.silhouette = new OffscreenCanvas(tl.width, tl.height);
  }

  private font(ctx: Ctx, size: number): { asc: number } {
    // unhinted outlines and fractional advances, like libass (hinting would round each glyph to whole pixels)
    ctx.textRendering = "geometricPrecision";
    ctx.fontKerning = "normal";
    if (this.emRatio === 0) {
      ctx.font = `bold 100px ${this.family}`;
      const m = ctx.measureText("Hg");
      const a = m.fontBoundingBoxAscent;
      const d = m.fontBoundingBoxDescent;
      this.emRatio = a + d > 0 ? (a + d) / 100 : 1.164;
      this.ascRatio = a + d > 0 ? a / (a + d) : 0.8;
    }
    ctx.font = `bold ${size / this.emRatio}px ${this.family}`;
    return { asc: size * this.ascRatio };
  }

  /** libass WrapStyle 0: a line wider than the margins allow is broken into lines of even width. */
  private wrap(ctx: Ctx, line: string, maxW: number): string[] {
    if (ctx.measureText(line).width <= maxW || !line.includes(" ")) return [line];
    const words = line.split(" ");
    const greedy = (limit: number): string[] => {
      const out: string[] = [];
      let cur = "";
      for (const word of words) {
        const cand = cur ? `${cur} ${word}` : word;
        if (cur && ctx.measureText(cand).width > limit) {
          out.push(cur);
          cur = word;
        } else cur = cand;
      }
      if (cur) out.push(cur);
      return out;
    };
    const lines = greedy(maxW);
    let lo = ctx.measureText(line).width / lines.length;
    let hi = maxW;
    for (let k = 0; k < 20 && hi - lo > 0.5; k++) {
      const mid = (lo + hi) / 2;
      if (greedy(mid).length <= lines.length) hi = mid;
      else lo = mid;
    }
    return greedy(hi);
  }

  /** Render a text block (shadow, outline, fill) into a cached full-frame layer. */
  private block(key: string, text: string, look: Look, where: "bottom" | "middle", highlight: number[] | null, nowCs: number): OffscreenCanvas {
    const cached = this.cache.get(key);
    if (cached) return cached;
    const ctx = context(this.layer);
    const { asc } = this.font(ctx, look.size);
    const lines = text.split("\n").flatMap((l) => this.wrap(ctx, l, this.w - 2 * this.side));
    const height = lines.length * look.size;
    const top = where === "bottom" ? this.h - this.margin - height : (this.h - height) / 2;
    const cx = this.w / 2;

    const sil = context(this.silhouette);
    sil.clearRect(0, 0, this.w, this.h);
    this.font(sil, look.size);
    sil.lineJoin = "round";
    sil.lineWidth = 2 * look.outline;
    sil.textAlign = "center";
    sil.textBaseline = "alphabetic";
    sil.fillStyle = sil.strokeStyle = "#000";
    lines.forEach((l, i) => {
      sil.strokeText(l, cx, top + asc + i * look.size);
      sil.fillText(l, cx, top + asc + i * look.size);
    });

    ctx.clearRect(0, 0, this.w, this.h);
    ctx.globalAlpha = look.shadowAlpha;
    ctx.drawImage(this.silhouette, look.shadow, look.shadow);
    ctx.globalAlpha = 1;
    ctx.lineJoin = "round";
    ctx.lineWidth = 2 * look.outline;
    ctx.strokeStyle = look.outlineColor;
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "center";
    lines.forEach((l, i) => ctx.strokeText(l, cx, top + asc + i * look.size));
    if (highlight === null) {
      ctx.fillStyle = key.startsWith("kara-plain") ? KARAOKE : "#fff";
      lines.forEach((l, i) => ctx.fillText(l, cx, top + asc + i * look.size));
    } else {
      ctx.textAlign = "left";
      let k = 0;
      lines.forEach((l, i) => {
        const tokens = l.split(" ");
        let x = cx - ctx.measureText(l).width / 2;
        tokens.forEach((tok, j) => {
          const piece = j + 1 < tokens.length ? `${tok} ` : tok;
          ctx.fillStyle = nowCs >= highlight[k] ? KARAOKE : "#fff";
          ctx.fillText(piece, x, top + asc + i * look.size);
          x += ctx.measureText(piece).width;
          k += 1;
        });
      });
    }
    const out = new OffscreenCanvas(this.w, this.h);
    context(out).drawImage(this.layer, 0, 0);
    if (this.cache.size >= 6) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, out);
    return out;
  }

  /** Draw the segment's title and subtitles for frame n (segment-relative) on top of the finished picture. */
  draw(ctx: Ctx, seg: Segment, n: number, fps: number): void {
    const nowMs = Math.floor((n * 1000) / fps + 1e-9);
    const offset = seg.start_frame / fps;
    if (seg.text) {
      const dur = seg.frames / fps;
      const durMs = pyRound(dur * 100) * 10;
      if (nowMs < durMs) {
        const fade = Math.trunc(Math.min(400, dur * 250));
        const alpha = titleOpacity(nowMs, durMs, fade);
        if (alpha > 0) {
          ctx.globalAlpha = alpha;
          ctx.drawImage(this.block(`title|${seg.text}`, seg.text, this.title, "middle", null, 0), 0, 0);
          ctx.globalAlpha = 1;
        }
      }
    }
    if (!this.burn) return;
    seg.cues.forEach((c: Cue, ci: number) => {
      const start = c.start - offset;
      if (!eventShown(start, c.end - offset, nowMs)) return;
      const kara = this.karaoke && c.words.length > 0;
      if (!kara) {
        ctx.drawImage(this.block(`sub|${ci}|${c.text}`, c.text, this.sub, "bottom", null, 0), 0, 0);
        return;
      }
      const marks = karaokeMarks(c);
      if (marks === null) {
        ctx.drawImage(this.block(`kara-plain|${ci}|${c.text}`, c.text, this.sub, "bottom", null, 0), 0, 0);
        return;
      }
      const nowCs = (nowMs - this.eventStartMs(start)) / 10;
      const lit = marks.filter((m) => nowCs >= m).length;
      ctx.drawImage(this.block(`kara|${ci}|${lit}|${c.text}`, c.text, this.sub, "bottom", marks, nowCs), 0, 0);
    });
  }

  private eventStartMs(start: number): number {
    return pyRound(Math.max(start, 0) * 100) * 10;
  }
}
