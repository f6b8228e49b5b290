// Video clips, decoded frame-accurately with WebCodecs (through mediabunny's demuxers and VideoDecoder).
// Frame n of a segment shows the clip at clip_start + n/fps, looping from the clip's start when it runs out,
// like the server's `-stream_loop -1 -ss clip_start` input followed by `fps=` (nearest frame).
import { ALL_FORMATS, Input, UrlSource, VideoSampleSink, type VideoSample } from "mediabunny";

import type { Fit } from "./timeline";

type Ctx = OffscreenCanvasRenderingContext2D;

export class ClipReader {
  private constructor(
    private readonly input: Input,
    private readonly sink: VideoSampleSink,
    readonly first: number,
    readonly duration: number,
    /** the clip declares no YUV matrix and is below 720 lines: read it as BT.601, like the server (the browser
     * would assume BT.709, which the server also assumes for untagged HD) */
    readonly untagged: boolean,
  ) {}

  static async open(url: string): Promise<ClipReader> {
    const input = new Input({ source: new UrlSource(url), formats: ALL_FORMATS });
    const track = await input.getPrimaryVideoTrack();
    if (!track) throw new Error(`the clip ${url} has no video track`);
    if (!(await track.canDecode())) throw new Error(`this browser cannot decode the clip ${url} (${track.codec})`);
    const first = await track.getFirstTimestamp();
    const end = await track.computeDuration();
    const untagged = !(await track.getColorSpace()).matrix && track.codedHeight < 720;
    return new ClipReader(input, new VideoSampleSink(track), first, Math.max(end - first, 1e-3), untagged);
  }

  /** The clip's frames for frames 0..count-1 of a segment, in order. */
  frames(clipStart: number, count: number, fps: number): AsyncGenerator<VideoSample | null> {
    const d = this.duration;
    const times = function* (first: number): Generator<number> {
      for (let n = 0; n < count; n++) {
        // nearest frame: the last one that starts before the midpoint to the next output frame
        const t = (clipStart + n / fps) % d;
        yield first + Math.min(t + 0.5 / fps - 1e-6, d - 1e-6);
      }
    };
    return this.sink.samplesAtTimestamps(times(this.first));
  }

  close(): void {
    this.input.dispose();
  }
}

/** A drawable frame of the sample; an `untagged` clip's YUV is read with the BT.601 matrix. */
export async function clipFrame(s: VideoSample, untagged: boolean): Promise<VideoFrame> {
  const frame = s.toVideoFrame();
  const cs = frame.colorSpace;
  if (!untagged || frame.format === null || !/^(I4|NV12)/.test(frame.format)) return frame;
  try {
    const buf = new Uint8Array(frame.allocationSize());
    const layout = await frame.copyTo(buf);
    const rect = frame.visibleRect; // copyTo copies the visible rectangle only
    return new VideoFrame(buf, {
      format: frame.format,
      codedWidth: rect ? rect.width : frame.codedWidth,
      codedHeight: rect ? rect.height : frame.codedHeight,
      displayWidth: frame.displayWidth,
      displayHeight: frame.displayHeight,
      timestamp: frame.timestamp,
      layout,
      colorSpace: { matrix: "smpte170m", primaries: "bt709", transfer: "iec61966-2-1", fullRange: cs.fullRange ?? false },
    });
  } finally {
    frame.close();
  }
}

/** Draw a frame into the box as the segment's `fit` says: `cover`, or `blurfill` (the server's
 * `scale` to 1/8 + `boxblur` + `eq=brightness=-0.18` fill under the whole frame, scaled to fit). */
export function drawFit(ctx: Ctx, f: VideoFrame, fit: Fit, x: number, y: number, w: number, h: number): void {
  if (fit === "cover") {
    drawCover(ctx, f, x, y, w, h);
    return;
  }
  const bw = Math.max(2, Math.floor(w / 16) * 2);
  const bh = Math.max(2, Math.floor(h / 16) * 2);
  if (!fillCanvas || fillCanvas.width !== bw || fillCanvas.height !== bh) fillCanvas = new OffscreenCanvas(bw, bh);
  const small = fillCanvas.getContext("2d") as Ctx;
  small.filter = "blur(1px)";
  drawCover(small, f, 0, 0, bw, bh);
  small.filter = "none";
  ctx.imageSmoothingQuality = "low";
  ctx.drawImage(fillCanvas, x, y, w, h);
  ctx.fillStyle = "rgba(0,0,0,0.2)";
  ctx.fillRect(x, y, w, h);
  const k = Math.min(w / f.displayWidth, h / f.displayHeight);
  const dw = Math.round((f.displayWidth * k) / 2) * 2;
  const dh = Math.round((f.displayHeight * k) / 2) * 2;
  ctx.imageSmoothingQuality = 1 / k > 1.5 ? "high" : "low";
  ctx.drawImage(f, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
}

let fillCanvas: OffscreenCanvas | null = null;

/** Draw a frame scaled to cover the box and centre-cropped (scale=force_original_aspect_ratio=increase,crop). */
export function drawCover(ctx: Ctx, f: VideoFrame, x: number, y: number, w: number, h: number): void {
  const sw = f.displayWidth;
  const sh = f.displayHeight;
  const k = Math.max(w / sw, h / sh);
  const cw = w / k;
  const ch = h / k;
  ctx.imageSmoothingQuality = 1 / k > 1.5 ? "high" : "low";
  ctx.drawImage(f, (sw - cw) / 2, (sh - ch) / 2, cw, ch, x, y, w, h);
}
