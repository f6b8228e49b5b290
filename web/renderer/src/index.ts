// reelforge's browser renderer: one script, loaded by a page with <script src="renderer.js">. It defines
// `window.ReelforgeRenderer` and, loaded again as a Web Worker, renders the frames off the main thread.
//
//   const blob = await ReelforgeRenderer.render("/v1/videos/ID/timeline", {
//     fontUrl: "/fonts/DejaVuSans-Bold.ttf", onProgress: (p) => bar.value = p.fraction });
//
// The audio is mixed on the main thread (OfflineAudioContext exists only there); everything else (stills,
// clips, text, encoding, muxing) runs in the worker when the browser can, else on the main thread.
import { mixAudio } from "./audio";
import { chooseCodecs, type CodecChoice } from "./codecs";
import { layerState } from "./layers";
import { duckBreakpoints, fadeFactor, kenBurns, mergeIntervals, styleMetrics } from "./math";
import { renderCore, type CoreOptions, type CoreResult, type Progress, type RenderStats } from "./render";
import { normalize, resolveUrls, type Timeline } from "./timeline";
import { progress as transitionProgress } from "./transitions";

export const VERSION = "1";

export interface RenderOptions extends CoreOptions {
  onProgress?: (p: Progress) => void;
  onStats?: (s: RenderStats) => void;
  signal?: AbortSignal;
  /** Render the frames in a Web Worker (default: when the browser can). */
  worker?: boolean;
  /** Base URL for relative asset URLs in a timeline object (default: the page's URL). */
  baseUrl?: string;
}

type ToWorker = { type: "render"; timeline: Timeline; pcm: Float32Array[]; options: CoreOptions };
type FromWorker =
  | { type: "progress"; progress: Progress }
  | { type: "done"; result: CoreResult }
  | { type: "error"; message: string; name: string };

interface WorkerScope {
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: FromWorker, transfer?: Transferable[]): void;
}

const isWorker =
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined" &&
  typeof (globalThis as { document?: unknown }).document === "undefined";

// the URL this script was loaded from: the worker is started from the same file
const scriptUrl: string | null = (() => {
  if (isWorker) return null;
  const cur = typeof document !== "undefined" ? document.currentScript : null;
  return cur instanceof HTMLScriptElement && cur.src ? cur.src : null;
})();

function canUseWorker(): boolean {
  return scriptUrl !== null && typeof Worker !== "undefined" && typeof OffscreenCanvas !== "undefined";
}

/** A worker running this script, or null where the page may not start one (a CSP, a cross-origin bundle). */
function startWorker(): Worker | null {
  if (!canUseWorker()) return null;
  try {
    return new Worker(scriptUrl as string);
  } catch {
    return null;
  }
}

function runInWorker(worker: Worker, tl: Timeline, pcm: Float32Array[], opts: RenderOptions): Promise<CoreResult> {
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      worker.terminate();
      reject(new DOMException("the render was cancelled", "AbortError"));
    };
    opts.signal?.addEventListener("abort", stop, { once: true });
    worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.type === "progress") {
        opts.onProgress?.(m.progress);
        return;
      }
      opts.signal?.removeEventListener("abort", stop);
      worker.terminate();
      if (m.type === "done") resolve(m.result);
      else {
        const err = new Error(m.message);
        err.name = m.name;
        reject(err);
      }
    };
    worker.onerror = (ev) => {
      opts.signal?.removeEventListener("abort", stop);
      worker.terminate();
      reject(new Error(`the render worker failed: ${ev.message}`));
    };
    const options: CoreOptions = { fontUrl: opts.fontUrl, codec: opts.codec, bitrate: opts.bitrate };
    const msg: ToWorker = { type: "render", timeline: tl, pcm, options };
    worker.postMessage(msg, pcm.map((c) => c.buffer));
  });
}

/** Render a timeline object (the server's `timeline_for_browser` document) to a video Blob. */
export async function renderTimeline(doc: unknown, opts: RenderOptions = {}): Promise<Blob> {
  const base = opts.baseUrl ?? (typeof location !== "undefined" ? location.href : undefined);
  const abs = (u: string | null | undefined): string | null | undefined => (u && base ? new URL(u, base).href : u);
  let tl = normalize(doc);
  if (base) tl = resolveUrls(tl, base);
  const options: RenderOptions = { ...opts, fontUrl: abs(opts.fontUrl) };
  options.onProgress?.({ stage: "audio", done: 0, total: 1, fraction: 0 });
  const t0 = performance.now();
  const pcm = await mixAudio(tl.audio, tl.frames / tl.fps);
  const mixSeconds = (performance.now() - t0) / 1000;
  const worker = (opts.worker ?? true) ? startWorker() : null;
  const result = worker
    ? await runInWorker(worker, tl, pcm, options)
    : await renderCore(tl, pcm, options, (p) => options.onProgress?.(p), opts.signal, false);
  result.stats.mixSeconds = mixSeconds;
  result.stats.seconds = (performance.now() - t0) / 1000;
  opts.onStats?.(result.stats);
  return new Blob([result.buffer], { type: result.stats.mimeType.split(";")[0] });
}

/** Fetch a timeline document (asset URLs relative to it) and render it to a video Blob. */
export async function render(timelineUrl: string, opts: RenderOptions = {}): Promise<Blob> {
  const url = new URL(timelineUrl, typeof location !== "undefined" ? location.href : undefined).href;
  const res = await fetch(url, { signal: opts.signal });
  if (!res.ok) throw new Error(`cannot fetch the timeline ${url}: HTTP ${res.status}`);
  return renderTimeline(await res.json(), { ...opts, baseUrl: opts.baseUrl ?? url });
}

/** What this browser would use for a frame size, or an Error saying why it cannot render at all. */
export function codecsFor(width: number, height: number, fps: number, codec?: CoreOptions["codec"]): Promise<CodecChoice> {
  return chooseCodecs(width, height, fps, { codec });
}

/** Can this browser render in-page at all? (WebCodecs encoders, OffscreenCanvas, OfflineAudioContext.) */
export function supported(): boolean {
  return (
    typeof VideoEncoder !== "undefined" &&
    typeof AudioEncoder !== "undefined" &&
    typeof OffscreenCanvas !== "undefined" &&
    typeof OfflineAudioContext !== "undefined"
  );
}

if (isWorker) {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (ev: MessageEvent<ToWorker>) => {
    const m = ev.data;
    if (m.type !== "render") return;
    renderCore(m.timeline, m.pcm, m.options, (progress) => scope.postMessage({ type: "progress", progress }), undefined, true)
      .then((result) => scope.postMessage({ type: "done", result }, [result.buffer]))
      .catch((e: unknown) =>
        scope.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e), name: e instanceof Error ? e.name : "Error" }),
      );
  };
} else if (typeof window !== "undefined") {
  (window as unknown as { ReelforgeRenderer: unknown }).ReelforgeRenderer = {
    VERSION,
    render,
    renderTimeline,
    codecsFor,
    supported,
    // the server-parity helpers, for tests
    internals: { duckBreakpoints, mergeIntervals, styleMetrics, kenBurns, fadeFactor, normalize, layerState, transitionProgress },
  };
}
