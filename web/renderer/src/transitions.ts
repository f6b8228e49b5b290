// Overlapping transitions: frame j of the first D frames of a segment mixes the previous segment's picture
// continued past its end (A) with this segment's own frame (B), exactly like ffmpeg's `xfade` (offset 0,
// duration D/fps) that the server runs: progress P = 1 - j/D in 32-bit floats, then per pixel
//   crossfade (xfade `fade`)       A·P + B·(1 − P)
//   slide     (xfade `slideleft`)  s = trunc(P·W): A(x + W − s) left of column s, B(x − s) from it on
//   wipe      (xfade `wipeleft`)   z = trunc(W·P): A(x) for x <= z, B(x) after
//   zoom      (xfade `zoomin`)     A magnified about its centre (nearest, rounding up), then faded into B
// See docs/timeline-schema.md, "Transitions". ffmpeg mixes YUV 4:4:4 values; mixing RGB is the same picture up
// to rounding (the conversion is affine).
import type { Transition } from "./timeline";

type Ctx = OffscreenCanvasRenderingContext2D;
const f32 = Math.fround;

/** xfade's progress for frame j of a D-frame overlap. */
export function progress(j: number, d: number): number {
  return Math.min(1, Math.max(0, f32(1 - f32(j / d))));
}

function smoothstep(e0: number, e1: number, x: number): number {
  const t = Math.min(1, Math.max(0, f32(f32(x - e0) / f32(e1 - e0))));
  return f32(f32(t * t) * f32(3 - f32(2 * t)));
}

/** zoomin's source index along one axis, for every output pixel along it: ceil((0.5 + (x/n − 0.5)·zf)·(n − 1)). */
function zoomIndex(n: number, zf: number): Int32Array {
  const out = new Int32Array(n);
  const nf = f32(n);
  const last = f32(n - 1);
  for (let x = 0; x < n; x++) {
    const u = f32(0.5 + f32(f32(f32(x / nf) - 0.5) * zf));
    out[x] = Math.min(n - 1, Math.max(0, Math.ceil(f32(u * last))));
  }
  return out;
}

/** Draw frame j of a D-frame transition into `ctx` from the finished frames `a` (the previous segment's
 * continuation) and `b` (this segment's frame j). */
export function mixTransition(ctx: Ctx, kind: Transition, a: OffscreenCanvas, b: OffscreenCanvas, j: number, d: number): void {
  const w = a.width;
  const h = a.height;
  const p = progress(j, d);
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.globalAlpha = 1;
  if (kind === "slide") {
    const s = Math.trunc(f32(p * w));
    if (s > 0) ctx.drawImage(a, w - s, 0, s, h, 0, 0, s, h);
    if (s < w) ctx.drawImage(b, 0, 0, w - s, h, s, 0, w - s, h);
  } else if (kind === "wipe") {
    const z = Math.trunc(f32(w * p));
    const cols = Math.min(w, z + 1);
    ctx.drawImage(b, 0, 0);
    if (cols > 0) ctx.drawImage(a, 0, 0, cols, h, 0, 0, cols, h);
  } else if (kind === "zoom") {
    zoomIn(ctx, a, b, p);
  } else {
    // crossfade (and anything else): A over B at opacity P
    ctx.drawImage(b, 0, 0);
    ctx.globalAlpha = p;
    ctx.drawImage(a, 0, 0);
  }
  ctx.restore();
}

function pixels(c: OffscreenCanvas): Uint8ClampedArray {
  const x = c.getContext("2d", { willReadFrequently: true }) as Ctx;
  return x.getImageData(0, 0, c.width, c.height).data;
}

function zoomIn(ctx: Ctx, a: OffscreenCanvas, b: OffscreenCanvas, p: number): void {
  const w = a.width;
  const h = a.height;
  const zf = smoothstep(0.5, 1, p);
  const m = smoothstep(0, 0.5, p);
  const n = f32(1 - m);
  const iu = zoomIndex(w, zf);
  const iv = zoomIndex(h, zf);
  const pa = pixels(a);
  const pb = pixels(b);
  const out = new ImageData(w, h);
  const po = out.data;
  for (let y = 0; y < h; y++) {
    const rowA = iv[y] * w;
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      const s = (rowA + iu[x]) * 4;
      for (let c = 0; c < 3; c++) po[o + c] = Math.trunc(f32(f32(pa[s + c] * m) + f32(pb[o + c] * n)));
      po[o + 3] = 255;
    }
  }
  ctx.putImageData(out, 0, 0);
}
