// Which encoders this browser has: H.264 in MP4 where it can, else VP9, else AV1, in WebM. Audio: AAC in MP4 when
// the browser can encode it, else Opus (which MP4 and WebM both carry).
import { avcLevel } from "./math";

export type VideoFamily = "avc" | "vp9" | "av1";

export interface CodecChoice {
  video: VideoFamily;
  videoCodec: string; // the WebCodecs codec string
  videoConfig: VideoEncoderConfig;
  audio: "aac" | "opus";
  audioCodec: string;
  container: "mp4" | "webm";
  mimeType: string;
}

export interface CodecOptions {
  codec?: "auto" | VideoFamily;
  bitrate?: number; // video bits per second; default ~0.2 bits per pixel per frame
}

function candidates(width: number, height: number, fps: number): [VideoFamily, string][] {
  const lvl = avcLevel(width, height, fps);
  const big = width * height > 1280 * 720;
  return [
    ["avc", `avc1.6400${lvl}`], // High
    ["avc", `avc1.4200${lvl}`], // Constrained Baseline
    ["avc", "avc1.64001f"],
    ["avc", "avc1.42001f"],
    ["vp9", "vp09.00.10.08"],
    ["av1", big ? "av01.0.08M.08" : "av01.0.04M.08"],
  ];
}

export async function chooseCodecs(width: number, height: number, fps: number, opts: CodecOptions = {}): Promise<CodecChoice> {
  if (typeof VideoEncoder === "undefined" || typeof AudioEncoder === "undefined") {
    throw new Error("this browser has no WebCodecs encoders (VideoEncoder/AudioEncoder): use the server render");
  }
  const bitrate = opts.bitrate ?? Math.round(Math.min(20e6, Math.max(1e6, width * height * fps * 0.2)));
  const want = opts.codec ?? "auto";
  for (const [family, codec] of candidates(width, height, fps)) {
    if (want !== "auto" && want !== family) continue;
    const config: VideoEncoderConfig = {
      codec,
      width,
      height,
      bitrate,
      bitrateMode: "variable",
      framerate: fps,
      latencyMode: "quality",
      ...(family === "avc" ? { avc: { format: "avc" as const } } : {}),
    };
    let ok = false;
    try {
      ok = (await VideoEncoder.isConfigSupported(config)).supported === true;
    } catch {
      ok = false;
    }
    if (!ok) continue;
    const container = family === "avc" ? "mp4" : "webm";
    let audio: "aac" | "opus" = "opus";
    if (container === "mp4") {
      try {
        const aac = await AudioEncoder.isConfigSupported({ codec: "mp4a.40.2", sampleRate: 48000, numberOfChannels: 2, bitrate: 192000 });
        if (aac.supported) audio = "aac";
      } catch {
        audio = "opus";
      }
    }
    if (audio === "opus") {
      const opus = await AudioEncoder.isConfigSupported({ codec: "opus", sampleRate: 48000, numberOfChannels: 2, bitrate: 160000 });
      if (!opus.supported) throw new Error("this browser can encode neither AAC nor Opus audio: use the server render");
    }
    const audioCodec = audio === "aac" ? "mp4a.40.2" : "opus";
    return {
      video: family,
      videoCodec: codec,
      videoConfig: config,
      audio,
      audioCodec,
      container,
      mimeType: `video/${container}; codecs="${codec}, ${audioCodec}"`,
    };
  }
  throw new Error(
    want === "auto"
      ? `this browser cannot encode ${width}x${height} video as H.264, VP9 or AV1: use the server render`
      : `this browser cannot encode ${width}x${height} video as ${want}`,
  );
}
