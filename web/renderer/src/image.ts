// Stills: fetched and decoded once per segment; title cards blurred and darkened exactly like the server's
// `format=yuv420p,gblur=sigma=S,eq=brightness=B:saturation=C` (done here once per segment, in BT.601 YCbCr).

export type Drawable = ImageBitmap | OffscreenCanvas;

export interface Still {
  image: Drawable;
  width: number;
  height: number;
  close(): void;
}

export async function fetchBytes(url: string, what: string): Promise<Blob> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`cannot fetch ${what} ${url}: ${String(e)}`);
  }
  if (!res.ok) throw new Error(`cannot fetch ${what} ${url}: HTTP ${res.status}`);
  return res.blob();
}

export async function loadStill(url: string, what = "the still"): Promise<Still> {
  const blob = await fetchBytes(url, what);
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  return { image: bmp, width: bmp.width, height: bmp.height, close: () => bmp.close() };
}

// ---- BT.601 limited-range YCbCr, as swscale converts a PNG for format=yuv420p --------------------------------

function toYuv(rgba: Uint8ClampedArray, w: number, h: number): [Float32Array, Float32Array, Float32Array, number, number] {
  const y = new Float32Array(w * h);
  const cw = (w + 1) >> 1;
  const ch = (h + 1) >> 1;
  const u = new Float32Array(cw * ch);
  const v = new Float32Array(cw * ch);
  const cnt = new Float32Array(cw * ch);
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const p = (j * w + i) * 4;
      const r = rgba[p];
      const g = rgba[p + 1];
      const b = rgba[p + 2];
      y[j * w + i] = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
      const c = (j >> 1) * cw + (i >> 1);
      u[c] += 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255;
      v[c] += 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255;
      cnt[c] += 1;
    }
  }
  for (let c = 0; c < u.length; c++) {
    u[c] /= cnt[c];
    v[c] /= cnt[c];
  }
  return [y, u, v, cw, ch];
}

function fromYuv(y: Float32Array, u: Float32Array, v: Float32Array, w: number, h: number, cw: number, ch: number): ImageData {
  const out = new ImageData(w, h);
  const d = out.data;
  for (let j = 0; j < h; j++) {
    // bilinear chroma upsampling (chroma samples sit between the luma pairs vertically, left-aligned horizontally)
    const cy = Math.min(Math.max((j - 0.5) / 2, 0), ch - 1);
    const j0 = Math.floor(cy);
    const j1 = Math.min(j0 + 1, ch - 1);
    const fy = cy - j0;
    for (let i = 0; i < w; i++) {
      const cx = Math.min(i / 2, cw - 1);
      const i0 = Math.floor(cx);
      const i1 = Math.min(i0 + 1, cw - 1);
      const fx = cx - i0;
      const a = (1 - fx) * (1 - fy);
      const b = fx * (1 - fy);
      const c = (1 - fx) * fy;
      const e = fx * fy;
      const U = u[j0 * cw + i0] * a + u[j0 * cw + i1] * b + u[j1 * cw + i0] * c + u[j1 * cw + i1] * e - 128;
      const V = v[j0 * cw + i0] * a + v[j0 * cw + i1] * b + v[j1 * cw + i0] * c + v[j1 * cw + i1] * e - 128;
      const Y = 1.164383 * (y[j * w + i] - 16);
      const p = (j * w + i) * 4;
      d[p] = Y + 1.596027 * V;
      d[p + 1] = Y - 0.391762 * U - 0.812968 * V;
      d[p + 2] = Y + 2.017232 * U;
      d[p + 3] = 255;
    }
  }
  return out;
}

/** ffmpeg's gblur (Alvarez-Mazorra recursive filter, steps=1) on one plane, in place. */
export function gblurPlane(buf: Float32Array, w: number, h: number, sigma: number, steps = 1): void {
  const lambda = (sigma * sigma) / (2 * steps);
  const nu = (1 + 2 * lambda - Math.sqrt(1 + 4 * lambda)) / (2 * lambda);
  const bscale = 1 / (1 - nu);
  const postscale = Math.pow(nu / lambda, steps) ** 2; // horizontal and vertical
  for (let step = 0; step < steps; step++) {
    for (let y = 0; y < h; y++) {
      const o = y * w;
      buf[o] *= bscale;
      for (let x = 1; x < w; x++) buf[o + x] += nu * buf[o + x - 1];
      buf[o + w - 1] *= bscale;
      for (let x = w - 1; x > 0; x--) buf[o + x - 1] += nu * buf[o + x];
    }
    for (let x = 0; x < w; x++) {
      buf[x] *= bscale;
      for (let y = 1; y < h; y++) buf[y * w + x] += nu * buf[(y - 1) * w + x];
      buf[(h - 1) * w + x] *= bscale;
      for (let y = h - 1; y > 0; y--) buf[(y - 1) * w + x] += nu * buf[y * w + x];
    }
  }
  for (let i = 0; i < buf.length; i++) buf[i] = Math.min(255, Math.max(0, buf[i] * postscale));
}

/** ffmpeg's eq filter (gamma 1): integer `process_c` on luma (contrast 1, brightness) and chroma (saturation). */
function eqPlane(buf: Float32Array, contrastF: number, brightnessF: number): void {
  const contrast = Math.trunc(contrastF * 256 * 16);
  const brightness = Math.trunc((Math.trunc(100 * brightnessF + 100) * 511) / 200) - 128 - Math.trunc(contrast / 32);
  for (let i = 0; i < buf.length; i++) {
    const pel = ((Math.round(buf[i]) * contrast) >> 12) + brightness;
    buf[i] = pel < 0 ? 0 : pel > 255 ? 255 : pel;
  }
}

/** The title card's background: the still blurred by `sigma` and darkened by `dim`, like the server does it. */
export function titleBackground(src: Still, sigma: number, dim: number): Still {
  const { width: w, height: h } = src;
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) throw new Error("no 2D canvas context");
  ctx.drawImage(src.image, 0, 0);
  const [y, u, v, cw, ch] = toYuv(ctx.getImageData(0, 0, w, h).data, w, h);
  for (const p of [y, u, v]) {
    for (let i = 0; i < p.length; i++) p[i] = Math.round(p[i]); // the server's planes are 8-bit
  }
  if (sigma > 0) {
    gblurPlane(y, w, h, sigma);
    gblurPlane(u, cw, ch, sigma);
    gblurPlane(v, cw, ch, sigma);
  }
  if (dim > 0) {
    const brightness = Number((-dim * 0.5).toFixed(3));
    const saturation = Number((1 - dim * 0.4).toFixed(3));
    eqPlane(y, 1, brightness);
    eqPlane(u, saturation, 0);
    eqPlane(v, saturation, 0);
  }
  ctx.putImageData(fromYuv(y, u, v, w, h, cw, ch), 0, 0);
  return { image: canvas, width: w, height: h, close: () => undefined };
}
