// Keyframed layers (icons, labels, arrows drawing themselves, counters) over a segment's picture, by the rules
// of docs/timeline-schema.md, "Layers": the same maths as compose/layers.py (`layer_state`, and the ffmpeg
// expressions `layers_graph` writes, whose coefficients are printed with 4 decimals).
import { fixed } from "./math";
import type { Ease, Keyframe, Layer } from "./timeline";
import type { Drawable } from "./image";

type Ctx = OffscreenCanvasRenderingContext2D;

/** The easing curves of the timeline document (u clamped to 0..1). */
export function ease(kind: Ease, u: number): number {
  const v = Math.min(1, Math.max(0, u));
  if (kind === "in") return v ** 3;
  if (kind === "out") return 1 - (1 - v) ** 3;
  if (kind === "inout") return v * v * (3 - 2 * v);
  return v;
}

type Prop = "x" | "y" | "scale" | "reveal";

/** `prop` at segment time t: held before the first keyframe and after the last, eased between (layers.py
 * `property_expr`, with its 4-decimal numbers). */
export function property(kfs: Keyframe[], prop: Prop, t: number): number {
  const first = kfs[0][prop];
  if (kfs.every((k) => Math.abs(k[prop] - first) < 1e-9)) return fixed(first, 4);
  if (t < fixed(kfs[0].t, 4)) return fixed(first, 4);
  for (let i = 0; i + 1 < kfs.length; i++) {
    const a = kfs[i];
    const b = kfs[i + 1];
    if (t < fixed(b.t, 4)) {
      const va = a[prop];
      const vb = b[prop];
      const span = b.t - a.t;
      if (span <= 1e-9) return fixed(vb, 4);
      if (va === vb) return fixed(va, 4);
      return fixed(va, 4) + fixed(vb - va, 4) * ease(a.ease, (t - fixed(a.t, 4)) / fixed(span, 4));
    }
  }
  return fixed(kfs[kfs.length - 1][prop], 4);
}

export interface Ramp {
  start: number;
  duration: number;
  up: boolean;
}

/** The opacity before the first keyframe and the linear ramps after it (a step is a one-frame ramp). */
export function opacityRamps(kfs: Keyframe[], fps: number): { first: number; ramps: Ramp[] } {
  const ramps: Ramp[] = [];
  for (let i = 0; i + 1 < kfs.length; i++) {
    const a = kfs[i];
    const b = kfs[i + 1];
    if (a.opacity !== b.opacity) ramps.push({ start: a.t, duration: Math.max(b.t - a.t, 1 / fps), up: b.opacity > a.opacity });
  }
  return { first: kfs[0].opacity, ramps };
}

/** The opacity at segment time t: ffmpeg's `fade=...:alpha=1` filters, one per ramp (st and d with 4 decimals). */
export function opacity(kfs: Keyframe[], t: number, fps: number): number {
  const { first, ramps } = opacityRamps(kfs, fps);
  let op = first;
  for (const r of ramps) {
    const f = Math.min(1, Math.max(0, (t - fixed(r.start, 4)) / fixed(r.duration, 4)));
    op = r.up ? f : op * (1 - f);
  }
  return op;
}

export interface LayerState {
  visible: boolean;
  opacity: number;
  x0: number; // top-left corner, output pixels
  y0: number;
  width: number; // drawn size
  height: number;
  shown: number; // columns (reveal_axis x) or rows (y) drawn
  frame: number; // a counter's image index
}

const even = (v: number): number => Math.max(2, 2 * Math.floor(v / 2));
/** overlay's position on 4:2:0 video: truncated toward zero, then down to even. */
const truncEven = (v: number): number => Math.trunc(v) & ~1;

/** Where and how a layer is drawn at segment time t (compose/layers.py layer_state). */
export function layerState(layer: Layer, t: number, fps: number): LayerState {
  const kfs = layer.keyframes;
  const op = opacity(kfs, t, fps);
  const scale = property(kfs, "scale", t);
  const sw = even(layer.width * scale);
  const sh = even(layer.height * scale);
  const size = layer.reveal_axis === "x" ? sw : sh;
  const shown = 2 * Math.floor((size * property(kfs, "reveal", t)) / 2);
  let frame = 0;
  if (layer.frames.length > 0) {
    for (let j = 1; j < layer.frame_times.length; j++) if (t >= fixed(layer.frame_times[j], 4)) frame++;
  }
  return {
    visible: op > 0,
    opacity: op,
    x0: truncEven(property(kfs, "x", t) - sw / 2),
    y0: truncEven(property(kfs, "y", t) - sh / 2),
    width: sw,
    height: sh,
    shown,
    frame,
  };
}

export interface LayerImages {
  image: Drawable;
  frames: Drawable[];
}

/** Draw one layer at segment time t: scaled (bilinear), revealed from its left or top edge, at its opacity. */
export function drawLayer(ctx: Ctx, layer: Layer, images: LayerImages, t: number, fps: number): void {
  const st = layerState(layer, t, fps);
  if (!st.visible || st.shown <= 0) return;
  const src = layer.frames.length > 0 ? images.frames[Math.min(st.frame, images.frames.length - 1)] : images.image;
  ctx.save();
  ctx.globalAlpha = st.opacity;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = layer.width / st.width > 1.5 ? "high" : "low";
  const full = layer.reveal_axis === "x" ? st.width : st.height;
  if (st.shown < full) {
    ctx.beginPath();
    if (layer.reveal_axis === "x") ctx.rect(st.x0, st.y0, st.shown, st.height);
    else ctx.rect(st.x0, st.y0, st.width, st.shown);
    ctx.clip();
  }
  ctx.drawImage(src, st.x0, st.y0, st.width, st.height);
  ctx.restore();
}
