// The frame loop: frame n of the video is drawn at t = n/fps on an OffscreenCanvas, encoded with VideoEncoder
// (timestamp n/fps exactly), and muxed with the encoded audio by mediabunny into an MP4 or WebM in memory.
import {
  BufferTarget,
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  type VideoSample,
  Mp4OutputFormat,
  Output,
  WebMOutputFormat,
} from "mediabunny";
import { encodeAudio } from "./audio";
import { ClipReader, clipFrame, drawFit } from "./clips";
import { chooseCodecs, type CodecOptions } from "./codecs";
import { loadStill, titleBackground, type Still } from "./image";
import { drawLayer, type LayerImages } from "./layers";
import { fadeFactor, kenBurns, moves, zoompanWindow } from "./math";
import { TextPainter, loadFont } from "./text";
import type { Segment, Timeline } from "./timeline";
import { mixTransition } from "./transitions";

export interface Progress {
  stage: "prepare" | "audio" | "video" | "mux" | "done";
  done: number;
  total: number;
  fraction: number; // of the whole render, 0..1
  fps?: number; // frames per second so far (video stage)
}

export interface RenderStats {
  codec: string;
  audioCodec: string;
  container: "mp4" | "webm";
  mimeType: string;
  frames: number;
  seconds: number; // wall time of the whole render, from the audio mix to the finished file
  audioSeconds: number; // wall time of normalising and encoding the audio (mixing is timed by the page)
  mixSeconds: number; // wall time of the OfflineAudioContext mix (main thread)
  videoSeconds: number; // wall time of the frame loop
  fps: number; // frames per second of the frame loop
  loudness: number; // LUFS of the normalised mix
  worker: boolean;
}

export interface CoreOptions extends CodecOptions {
  fontUrl?: string | null;
}

export interface CoreResult {
  buffer: ArrayBuffer;
  stats: RenderStats;
}

type Ctx = OffscreenCanvasRenderingContext2D;

const AUDIO_SHARE = 0.05; // of the progress bar

class Stills {
  private readonly cache = new Map<string, Promise<Still>>();
  get(url: string, what = "the still"): Promise<Still> {
    let p = this.cache.get(url);
    if (!p) {
      p = loadStill(url, what);
      this.cache.set(url, p);
    }
    return p;
  }
  /** Drop every image not in `keep` (bounded memory on long timelines). */
  async retain(keep: Set<string>): Promise<void> {
    for (const [url, p] of [...this.cache]) {
      if (!keep.has(url)) {
        this.cache.delete(url);
        (await p.catch(() => null))?.close();
      }
    }
  }
}

/** Every image a segment draws: its still and its layers' images. */
function segmentImages(seg: Segment): string[] {
  return [seg.image, ...seg.layers.flatMap((l) => (l.frames.length > 0 ? l.frames : [l.image]))];
}

/** Bilinear is as good as bicubic for the small scale factors of Ken Burns (stills are drawn 15 % larger than the
 * frame) and four times faster; a much larger source gets the browser's best (mipmapped) filter. */
export function smoothing(ctx: Ctx, scale: number): void {
  ctx.imageSmoothingQuality = scale > 1.5 ? "high" : "low";
}

function drawStill(ctx: Ctx, still: Still, seg: Segment, n: number, w: number, h: number): void {
  if (moves(seg.motion)) {
    const r = zoompanWindow(seg.motion, n, seg.frames, still.width, still.height);
    smoothing(ctx, Math.max(r.w / w, r.h / h));
    ctx.drawImage(still.image, r.x, r.y, r.w, r.h, 0, 0, w, h);
    return;
  }
  const c = kenBurns(seg.motion, n, seg.frames, w, h);
  const kx = still.width / c.sw;
  const ky = still.height / c.sh;
  smoothing(ctx, Math.max(kx, ky));
  ctx.drawImage(still.image, c.x * kx, c.y * ky, w * kx, h * ky, 0, 0, w, h);
}

/** The frames of the transition into segment `si` (0: a fade through black, or the first segment). */
export function transitionFrames(tl: Timeline, si: number): number {
  const seg = tl.segments[si];
  return si > 0 && seg && seg.transition !== "fade" ? seg.transition_frames : 0;
}

/** One segment's picture (still, clip layout, layers) at any of its frames, in order: frames 0..F-1 and, for the
 * next segment's transition, F.. past its end (the Ken Burns goes on, the clip keeps playing and looping, the
 * layers hold their last keyframe). Fades and text are the caller's. */
class SegmentPainter {
  private lastSample: VideoFrame | null = null;
  private next = 0;

  private constructor(
    readonly seg: Segment,
    private readonly still: Still,
    private readonly layers: LayerImages[],
    private readonly layout: Segment["layout"],
    private readonly clip: ClipReader | null,
    private readonly samples: AsyncGenerator<VideoSample | null> | null,
  ) {}

  /** `count` frames will be drawn: the segment's, plus those its successor's transition overlaps. */
  static async open(seg: Segment, stills: Stills, count: number, fps: number): Promise<SegmentPainter> {
    let still = await stills.get(seg.image);
    if (seg.blur > 0 || seg.dim > 0) still = titleBackground(still, seg.blur, seg.dim);
    const layers: LayerImages[] = [];
    for (const l of seg.layers) {
      const frames = await Promise.all(l.frames.map((u) => stills.get(u, "the layer image")));
      const image = frames.length > 0 ? frames[0] : await stills.get(l.image, "the layer image");
      layers.push({ image: image.image, frames: frames.map((f) => f.image) });
    }
    const layout = seg.clip !== null ? seg.layout : "still";
    const clip = layout !== "still" && seg.clip !== null ? await ClipReader.open(seg.clip) : null;
    const samples = clip ? clip.frames(seg.clip_start, count, fps) : null;
    return new SegmentPainter(seg, still, layers, layout, clip, samples);
  }

  /** Draw the picture of frame `n` (called with n = 0, 1, 2, ... in order). */
  async draw(ctx: Ctx, n: number, w: number, h: number, fps: number): Promise<void> {
    const { seg, still } = this;
    if (n !== this.next) throw new Error(`segment ${seg.index}: frame ${n} drawn out of order`);
    this.next++;
    if (this.samples) {
      const r = await this.samples.next();
      const s = r.done ? null : r.value;
      if (s) {
        this.lastSample?.close();
        this.lastSample = await clipFrame(s, this.clip?.untagged ?? false);
        s.close();
      }
    }
    const sample = this.lastSample;
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, w, h);
    const layout = this.layout;
    if (layout === "still") {
      drawStill(ctx, still, seg, n, w, h);
    } else if (layout === "clip") {
      if (sample) drawFit(ctx, sample, seg.fit, 0, 0, w, h);
    } else if (layout === "blend") {
      if (sample) drawFit(ctx, sample, seg.fit, 0, 0, w, h);
      ctx.globalAlpha = sample ? 0.5 : 1;
      drawStill(ctx, still, seg, n, w, h);
      ctx.globalAlpha = 1;
    } else if (layout === "pip") {
      drawStill(ctx, still, seg, n, w, h);
      const iw = Math.floor(Math.floor(w / 3) / 2) * 2;
      const ih = Math.floor(Math.floor(h / 3) / 2) * 2;
      const mx = Math.floor(w / 24);
      const my = Math.floor(h / 24);
      if (sample) drawFit(ctx, sample, seg.fit, w - iw - mx, my, iw, ih);
    } else {
      drawStill(ctx, still, seg, n, w, h);
      const half = Math.floor(Math.floor(w / 2) / 2) * 2;
      if (sample) drawFit(ctx, sample, seg.fit, half, 0, w - half, h);
    }
    for (let i = 0; i < seg.layers.length; i++) drawLayer(ctx, seg.layers[i], this.layers[i], n / fps, fps);
  }

  async close(): Promise<void> {
    this.lastSample?.close();
    this.lastSample = null;
    if (this.samples) await this.samples.return(undefined);
    this.clip?.close();
  }
}

async function waitForQueue(enc: VideoEncoder, max: number): Promise<void> {
  while (enc.encodeQueueSize > max) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 50);
      enc.addEventListener(
        "dequeue",
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
}

/** Render a timeline whose asset URLs are absolute; `pcm` is the audio mix ([left, right] at 48 kHz). */
export async function renderCore(
  tl: Timeline,
  pcm: Float32Array[],
  opts: CoreOptions,
  onProgress: (p: Progress) => void,
  signal?: AbortSignal,
  inWorker = false,
): Promise<CoreResult> {
  const t0 = performance.now();
  const { width: w, height: h, fps } = tl;
  const report = (p: Omit<Progress, "fraction">, fraction: number): void => onProgress({ ...p, fraction });
  report({ stage: "prepare", done: 0, total: 1 }, 0);
  const choice = await chooseCodecs(w, h, fps, opts);
  const family = await loadFont(opts.fontUrl, tl.subtitles.font);
  const text = new TextPainter(tl, family);

  report({ stage: "audio", done: 0, total: 1 }, 0);
  const ta = performance.now();
  const audio = await encodeAudio(pcm, tl.audio, choice.audioCodec);
  const audioSeconds = (performance.now() - ta) / 1000;
  report({ stage: "audio", done: 1, total: 1 }, AUDIO_SHARE);

  const target = new BufferTarget();
  const output = new Output({
    format: choice.container === "mp4" ? new Mp4OutputFormat({ fastStart: "in-memory" }) : new WebMOutputFormat(),
    target,
  });
  const videoSource = new EncodedVideoPacketSource(choice.video);
  const audioSource = new EncodedAudioPacketSource(choice.audio);
  output.addVideoTrack(videoSource, { frameRate: fps });
  output.addAudioTrack(audioSource);
  if (tl.title) output.setMetadataTags({ title: tl.title });
  await output.start();

  // packets go to the muxer in order, audio interleaved by timestamp; one promise chain keeps the order
  let nextAudio = 0;
  let audioMeta = audio.meta;
  const addAudioUntil = async (us: number): Promise<void> => {
    while (nextAudio < audio.chunks.length && audio.chunks[nextAudio].timestamp <= us) {
      await audioSource.add(EncodedPacket.fromEncodedChunk(audio.chunks[nextAudio]), audioMeta);
      audioMeta = undefined;
      nextAudio++;
    }
  };
  let mux: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  const encoder = new VideoEncoder({
    output: (chunk, meta) => {
      const packet = EncodedPacket.fromEncodedChunk(chunk);
      mux = mux.then(async () => {
        await addAudioUntil(chunk.timestamp);
        await videoSource.add(packet, meta);
      });
      mux.catch((e: unknown) => {
        failure ??= e;
      });
    },
    error: (e) => {
      failure ??= e;
    },
  });
  encoder.configure(choice.videoConfig);

  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d", { alpha: false });
  if (!ctx) throw new Error("no 2D canvas context");
  ctx.imageSmoothingEnabled = true;

  // the two pictures of a transition frame, mixed into `canvas`
  let scratch: { a: OffscreenCanvas; actx: Ctx; b: OffscreenCanvas; bctx: Ctx } | null = null;
  const scratchCanvases = (): NonNullable<typeof scratch> => {
    if (!scratch) {
      const a = new OffscreenCanvas(w, h);
      const b = new OffscreenCanvas(w, h);
      const actx = a.getContext("2d", { alpha: false, willReadFrequently: true });
      const bctx = b.getContext("2d", { alpha: false, willReadFrequently: true });
      if (!actx || !bctx) throw new Error("no 2D canvas context");
      scratch = { a, actx, b, bctx };
    }
    return scratch;
  };

  const stills = new Stills();
  const tv = performance.now();
  let frame = 0;
  let prev: SegmentPainter | null = null; // the previous segment, while this one's transition continues it
  let cur: SegmentPainter | null = null;
  try {
    for (let si = 0; si < tl.segments.length; si++) {
      const seg = tl.segments[si];
      const next = tl.segments[si + 1];
      const dIn = prev ? transitionFrames(tl, si) : 0;
      const dOut = transitionFrames(tl, si + 1);
      await stills.retain(new Set([...(prev ? segmentImages(prev.seg) : []), ...segmentImages(seg), ...(next ? segmentImages(next) : [])]));
      cur = await SegmentPainter.open(seg, stills, seg.frames + dOut, fps);
      if (next) for (const u of segmentImages(next)) void stills.get(u).catch(() => undefined); // prefetch
      const dur = seg.frames / fps;
      // an overlapping transition replaces the fades on both sides of its boundary
      const fadeIn = dIn ? 0 : seg.fade_in;
      const fadeOut = dOut ? 0 : seg.fade_out;
      for (let n = 0; n < seg.frames; n++, frame++) {
        if (signal?.aborted) throw new DOMException("the render was cancelled", "AbortError");
        if (failure) throw failure;
        const mixing = prev !== null && n < dIn;
        const sc = mixing ? scratchCanvases() : null;
        const bctx = sc ? sc.bctx : ctx;
        await cur.draw(bctx, n, w, h, fps);
        const f = fadeFactor(n / fps, dur, fadeIn, fadeOut);
        if (f < 1) {
          bctx.globalAlpha = 1 - f;
          bctx.fillStyle = "#000";
          bctx.fillRect(0, 0, w, h);
          bctx.globalAlpha = 1;
        }
        text.draw(bctx, seg, n, fps);
        if (sc && prev) {
          // A: the previous segment's picture at its own frame F_prev + n (no fade, no text)
          await prev.draw(sc.actx, prev.seg.frames + n, w, h, fps);
          mixTransition(ctx, seg.transition, sc.a, sc.b, n, dIn);
        }
        if (prev && n + 1 >= dIn) {
          await prev.close();
          prev = null;
        }

        const ts = Math.round((frame * 1e6) / fps);
        const vf = new VideoFrame(canvas, { timestamp: ts, duration: Math.round(((frame + 1) * 1e6) / fps) - ts, alpha: "discard" });
        encoder.encode(vf, { keyFrame: frame % (fps * 2) === 0 });
        vf.close();
        await waitForQueue(encoder, 3);
        if (frame % 5 === 0 || frame === tl.frames - 1) {
          const secs = (performance.now() - tv) / 1000;
          report(
            { stage: "video", done: frame + 1, total: tl.frames, fps: secs > 0 ? (frame + 1) / secs : 0 },
            AUDIO_SHARE + (1 - AUDIO_SHARE - 0.02) * ((frame + 1) / tl.frames),
          );
        }
      }
      if (prev) {
        await prev.close();
        prev = null;
      }
      if (dOut > 0) prev = cur;
      else await cur.close();
      cur = null;
    }
    await encoder.flush();
    encoder.close();
    const videoSeconds = (performance.now() - tv) / 1000;
    await mux;
    if (failure) throw failure;
    report({ stage: "mux", done: 0, total: 1 }, 0.98);
    await addAudioUntil(Number.POSITIVE_INFINITY);
    videoSource.close();
    audioSource.close();
    await output.finalize();
    const buffer = target.buffer;
    if (!buffer) throw new Error("the muxer produced no file");
    const seconds = (performance.now() - t0) / 1000;
    report({ stage: "done", done: 1, total: 1 }, 1);
    return {
      buffer,
      stats: {
        codec: choice.videoCodec,
        audioCodec: choice.audioCodec,
        container: choice.container,
        mimeType: choice.mimeType,
        frames: tl.frames,
        seconds,
        audioSeconds,
        mixSeconds: 0,
        videoSeconds,
        fps: tl.frames / videoSeconds,
        loudness: audio.lufs,
        worker: inWorker,
      },
    };
  } catch (e) {
    if (encoder.state !== "closed") encoder.close();
    await output.cancel().catch(() => undefined);
    throw e;
  } finally {
    await (prev as SegmentPainter | null)?.close();
    await (cur as SegmentPainter | null)?.close();
    await stills.retain(new Set());
  }
}
