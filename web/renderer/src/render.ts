// The frame loop: frame n of the video is drawn at t = n/fps on an OffscreenCanvas, encoded with VideoEncoder
// (timestamp n/fps exactly), and muxed with the encoded audio by mediabunny into an MP4 or WebM in memory.
import {
  BufferTarget,
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  Mp4OutputFormat,
  Output,
  WebMOutputFormat,
} from "mediabunny";
import { encodeAudio } from "./audio";
import { ClipReader, clipFrame, drawFit } from "./clips";
import { chooseCodecs, type CodecOptions } from "./codecs";
import { loadStill, titleBackground, type Still } from "./image";
import { fadeFactor, kenBurns } from "./math";
import { TextPainter, loadFont } from "./text";
import type { Segment, Timeline } from "./timeline";

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
  get(url: string): Promise<Still> {
    let p = this.cache.get(url);
    if (!p) {
      p = loadStill(url);
      this.cache.set(url, p);
    }
    return p;
  }
  /** Drop every still not in `keep` (bounded memory on long timelines). */
  async retain(keep: Set<string>): Promise<void> {
    for (const [url, p] of [...this.cache]) {
      if (!keep.has(url)) {
        this.cache.delete(url);
        (await p.catch(() => null))?.close();
      }
    }
  }
}

/** Bilinear is as good as bicubic for the small scale factors of Ken Burns (stills are drawn 15 % larger than the
 * frame) and four times faster; a much larger source gets the browser's best (mipmapped) filter. */
export function smoothing(ctx: Ctx, scale: number): void {
  ctx.imageSmoothingQuality = scale > 1.5 ? "high" : "low";
}

function drawStill(ctx: Ctx, still: Still, seg: Segment, n: number, w: number, h: number): void {
  const c = kenBurns(seg.motion, n, seg.frames, w, h);
  const kx = still.width / c.sw;
  const ky = still.height / c.sh;
  smoothing(ctx, Math.max(kx, ky));
  ctx.drawImage(still.image, c.x * kx, c.y * ky, w * kx, h * ky, 0, 0, w, h);
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

  const stills = new Stills();
  const tv = performance.now();
  let frame = 0;
  try {
    for (let si = 0; si < tl.segments.length; si++) {
      const seg = tl.segments[si];
      const next = tl.segments[si + 1];
      await stills.retain(new Set([seg.image, ...(next ? [next.image] : [])]));
      let still = await stills.get(seg.image);
      if (next) void stills.get(next.image).catch(() => undefined); // prefetch
      if (seg.blur > 0 || seg.dim > 0) still = titleBackground(still, seg.blur, seg.dim);
      const layout = seg.clip !== null ? seg.layout : "still";
      const clip = layout !== "still" && seg.clip !== null ? await ClipReader.open(seg.clip) : null;
      const samples = clip ? clip.frames(seg.clip_start, seg.frames, fps) : null;
      let lastSample: VideoFrame | null = null;
      const dur = seg.frames / fps;
      try {
        for (let n = 0; n < seg.frames; n++, frame++) {
          if (signal?.aborted) throw new DOMException("the render was cancelled", "AbortError");
          if (failure) throw failure;
          if (samples) {
            const r = await samples.next();
            const s = r.done ? null : r.value;
            if (s) {
              lastSample?.close();
              lastSample = await clipFrame(s, clip?.untagged ?? false);
              s.close();
            }
          }
          ctx.globalAlpha = 1;
          ctx.fillStyle = "#000";
          ctx.fillRect(0, 0, w, h);
          if (layout === "still") {
            drawStill(ctx, still, seg, n, w, h);
          } else if (layout === "clip") {
            if (lastSample) drawFit(ctx, lastSample, seg.fit, 0, 0, w, h);
          } else if (layout === "blend") {
            if (lastSample) drawFit(ctx, lastSample, seg.fit, 0, 0, w, h);
            ctx.globalAlpha = lastSample ? 0.5 : 1;
            drawStill(ctx, still, seg, n, w, h);
            ctx.globalAlpha = 1;
          } else if (layout === "pip") {
            drawStill(ctx, still, seg, n, w, h);
            const iw = Math.floor(Math.floor(w / 3) / 2) * 2;
            const ih = Math.floor(Math.floor(h / 3) / 2) * 2;
            const mx = Math.floor(w / 24);
            const my = Math.floor(h / 24);
            if (lastSample) drawFit(ctx, lastSample, seg.fit, w - iw - mx, my, iw, ih);
          } else {
            drawStill(ctx, still, seg, n, w, h);
            const half = Math.floor(Math.floor(w / 2) / 2) * 2;
            if (lastSample) drawFit(ctx, lastSample, seg.fit, half, 0, w - half, h);
          }
          const f = fadeFactor(n / fps, dur, seg.fade_in, seg.fade_out);
          if (f < 1) {
            ctx.globalAlpha = 1 - f;
            ctx.fillStyle = "#000";
            ctx.fillRect(0, 0, w, h);
            ctx.globalAlpha = 1;
          }
          text.draw(ctx, seg, n, fps);

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
      } finally {
        lastSample?.close();
        if (samples) await samples.return(undefined);
        clip?.close();
      }
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
    await stills.retain(new Set());
  }
}
