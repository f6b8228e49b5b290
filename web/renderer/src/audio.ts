// The audio: mixed by an OfflineAudioContext (narration at its start times, music under the ducking envelope of
// compose/audio.py duck_breakpoints), then normalised to the plan's integrated loudness (ITU-R BS.1770 meter, the
// same gain search as the server) under a look-ahead peak limiter, then encoded with WebCodecs' AudioEncoder.
import { duckBreakpoints, interp } from "./math";
import type { AudioPlan } from "./timeline";
import { fetchBytes } from "./image";

export const SAMPLE_RATE = 48000;

/** Mix the plan on the main thread (OfflineAudioContext exists only there); returns [left, right] PCM. */
export async function mixAudio(plan: AudioPlan, duration: number): Promise<Float32Array[]> {
  const length = Math.max(1, Math.round(duration * SAMPLE_RATE));
  const ctx = new OfflineAudioContext({ numberOfChannels: 2, length, sampleRate: SAMPLE_RATE });
  const decode = async (url: string, what: string): Promise<AudioBuffer> =>
    ctx.decodeAudioData(await (await fetchBytes(url, what)).arrayBuffer());
  const voices = await Promise.all(plan.narration.map((c) => decode(c.path, "the narration")));
  voices.forEach((buf, i) => {
    const src = new AudioBufferSourceNode(ctx, { buffer: buf });
    src.connect(ctx.destination); // mono is up-mixed to both channels at full level, like pan=stereo|c0=c0|c1=c0
    src.start(Math.max(0, plan.narration[i].start));
  });
  if (plan.music) {
    const music = await decode(plan.music, "the music");
    const src = new AudioBufferSourceNode(ctx, { buffer: music });
    const gain = new GainNode(ctx, { gain: 1 });
    const db = (x: number): number => Math.pow(10, x / 20);
    // the envelope is linear in dB between breakpoints: exactly what exponential ramps are
    const { ts, gs } = duckBreakpoints(plan);
    gain.gain.setValueAtTime(db(gs[0]), 0);
    let last = 0;
    for (let i = 1; i < ts.length; i++) {
      const t = Math.min(ts[i], duration);
      const v = db(t < ts[i] ? interp(t, ts, gs) : gs[i]);
      if (t <= last + 1e-6) gain.gain.setValueAtTime(v, t);
      else gain.gain.exponentialRampToValueAtTime(v, t);
      last = t;
      if (t >= duration) break;
    }
    src.connect(gain).connect(ctx.destination);
    src.start(0);
  }
  const out = await ctx.startRendering();
  return [out.getChannelData(0).slice(), out.getChannelData(1).slice()];
}

// ---- loudness: ITU-R BS.1770-4 / EBU R128 integrated, 48 kHz ------------------------------------------------

// K-weighting at 48 kHz: a high shelf, then the RLB high-pass (BS.1770-4, table 1 and 2)
const K1 = [1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585];
const K2 = [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621];

/** A streaming integrated-loudness meter (400 ms blocks, 75 % overlap, absolute and relative gates). */
export class LoudnessMeter {
  private readonly state: Float64Array[] = [new Float64Array(8), new Float64Array(8)]; // per channel, both filters
  private readonly step = SAMPLE_RATE / 10;
  private readonly acc = new Float64Array(2);
  private count = 0;
  private readonly quarters: number[] = []; // mean square of each 100 ms

  push(channels: Float32Array[], from = 0, to = channels[0].length): void {
    const [b0, b1, b2, a1, a2] = K1;
    const [c0, c1, c2, d1, d2] = K2;
    let i = from;
    while (i < to) {
      const end = Math.min(to, i + (this.step - this.count));
      for (let c = 0; c < channels.length; c++) {
        const x = channels[c];
        const st = this.state[c];
        let [x1, x2, y1, y2, u1, u2, v1, v2] = st;
        let acc = 0;
        for (let k = i; k < end; k++) {
          const x0 = x[k];
          const y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
          x2 = x1;
          x1 = x0;
          y2 = y1;
          y1 = y0;
          const v0 = c0 * y0 + c1 * u1 + c2 * u2 - d1 * v1 - d2 * v2;
          u2 = u1;
          u1 = y0;
          v2 = v1;
          v1 = v0;
          acc += v0 * v0;
        }
        st.set([x1, x2, y1, y2, u1, u2, v1, v2]);
        this.acc[c] += acc;
      }
      this.count += end - i;
      i = end;
      if (this.count === this.step) {
        this.quarters.push((this.acc[0] + this.acc[1]) / this.step);
        this.acc.fill(0);
        this.count = 0;
      }
    }
  }

  integrated(): number {
    const blocks: number[] = [];
    for (let i = 3; i < this.quarters.length; i++) {
      blocks.push((this.quarters[i - 3] + this.quarters[i - 2] + this.quarters[i - 1] + this.quarters[i]) / 4);
    }
    const lufs = (z: number): number => -0.691 + 10 * Math.log10(z);
    const abs = blocks.filter((z) => z > 0 && lufs(z) > -70);
    if (abs.length === 0) return -70;
    const rel = lufs(abs.reduce((a, b) => a + b, 0) / abs.length) - 10;
    const gated = abs.filter((z) => lufs(z) > rel);
    if (gated.length === 0) return -70;
    return lufs(gated.reduce((a, b) => a + b, 0) / gated.length);
  }
}

const CHUNK = SAMPLE_RATE; // 1 s of audio per limiter block

/** Apply `gainDb` and a linked look-ahead limiter with the given linear ceiling, streaming 1 s chunks to `sink`
 * (attack = look-ahead 3 ms, release 60 ms: the server's alimiter settings). */
export function gainAndLimit(
  input: Float32Array[],
  gainDb: number,
  ceiling: number,
  sink: (chunk: Float32Array[], offset: number) => void,
): void {
  const n = input[0].length;
  const g = Math.pow(10, gainDb / 20);
  const look = Math.round(0.003 * SAMPLE_RATE);
  const release = 1 - Math.exp(-1 / (0.06 * SAMPLE_RATE));
  let env = 1;
  const limit = ceiling / g; // limiting starts where |x| * g exceeds the ceiling
  const need = (i: number): number => {
    if (i < 0 || i >= n) return 1;
    let p = 0;
    for (let c = 0; c < input.length; c++) {
      const a = Math.abs(input[c][i]);
      if (a > p) p = a;
    }
    return p > limit ? limit / p : 1;
  };
  for (let c0 = 0; c0 < n; c0 += CHUNK) {
    const c1 = Math.min(n, c0 + CHUNK);
    const lo = c0 - 2 * look;
    const r = new Float32Array(c1 - c0 + 4 * look);
    let limited = false;
    for (let k = 0; k < r.length; k++) {
      r[k] = need(lo + k);
      if (r[k] < 1) limited = true;
    }
    const out = input.map(() => new Float32Array(c1 - c0));
    if (!limited && env >= 0.999999) {
      for (let c = 0; c < input.length; c++) for (let i = c0; i < c1; i++) out[c][i - c0] = input[c][i] * g;
      env = 1;
      sink(out, c0);
      continue;
    }
    // m = running min of r over +-look; a = running mean of m over +-look: a[i] <= r[i] everywhere
    const m = new Float32Array(c1 - c0 + 2 * look);
    const win = 2 * look + 1;
    const dq = new Int32Array(r.length); // monotonic deque of indices into r: a sliding minimum in O(n)
    let head = 0;
    let tail = 0;
    for (let j = 0; j < r.length; j++) {
      while (tail > head && r[dq[tail - 1]] >= r[j]) tail--;
      dq[tail++] = j;
      if (dq[head] <= j - win) head++;
      const k = j - 2 * look;
      if (k >= 0 && k < m.length) m[k] = r[dq[head]];
    }
    let sum = 0;
    for (let j = 0; j <= 2 * look; j++) sum += m[j];
    for (let i = c0; i < c1; i++) {
      const k = i - c0;
      if (k > 0) sum += m[k + 2 * look] - m[k - 1];
      const a = sum / (2 * look + 1);
      env = Math.min(a, env + (1 - env) * release);
      for (let c = 0; c < input.length; c++) out[c][k] = input[c][i] * g * env;
    }
    sink(out, c0);
  }
}

export interface Normalised {
  gainDb: number;
  lufs: number;
}

/** The gain that brings the limited mix to the plan's loudness (secant search, as compose/audio.py mix does). */
export function solveGain(pcm: Float32Array[], plan: AudioPlan): Normalised {
  const ceiling = Math.pow(10, (plan.true_peak - 1) / 20);
  const premix = new LoudnessMeter();
  premix.push(pcm);
  const level = premix.integrated();
  if (level < -60) return { gainDb: 0, lufs: level };
  const measure = (gain: number): number => {
    const meter = new LoudnessMeter();
    gainAndLimit(pcm, gain, ceiling, (chunk) => meter.push(chunk));
    return meter.integrated();
  };
  let gain = plan.loudness - level;
  let prev: [number, number] | null = null;
  let measured = level;
  for (let i = 0; i < 4; i++) {
    measured = measure(gain);
    const err = plan.loudness - measured;
    if (Math.abs(err) <= 0.1) break;
    let slope = 1;
    if (prev !== null && Math.abs(gain - prev[0]) > 1e-3) slope = Math.max(0.2, (measured - prev[1]) / (gain - prev[0]));
    prev = [gain, measured];
    gain += err / slope;
  }
  return { gainDb: gain, lufs: measured };
}

export interface EncodedAudio {
  chunks: EncodedAudioChunk[];
  meta: EncodedAudioChunkMetadata | undefined;
  lufs: number;
}

/** Normalise and encode the mix with AudioEncoder (`codec`: "mp4a.40.2" or "opus"). */
export async function encodeAudio(pcm: Float32Array[], plan: AudioPlan, codec: string): Promise<EncodedAudio> {
  const { gainDb, lufs } = solveGain(pcm, plan);
  const ceiling = Math.pow(10, (plan.true_peak - 1) / 20);
  const chunks: EncodedAudioChunk[] = [];
  let meta: EncodedAudioChunkMetadata | undefined;
  let failure: unknown = null;
  const enc = new AudioEncoder({
    output: (chunk, m) => {
      chunks.push(chunk);
      if (m?.decoderConfig && !meta) meta = m;
    },
    error: (e) => {
      failure = e;
    },
  });
  enc.configure({ codec, sampleRate: SAMPLE_RATE, numberOfChannels: 2, bitrate: codec === "opus" ? 160_000 : 192_000 });
  const frame = 4800; // 100 ms per AudioData
  gainAndLimit(pcm, gainDb, ceiling, (chunk, offset) => {
    for (let k = 0; k < chunk[0].length; k += frame) {
      const len = Math.min(frame, chunk[0].length - k);
      const planar = new Float32Array(2 * len);
      planar.set(chunk[0].subarray(k, k + len), 0);
      planar.set(chunk[1].subarray(k, k + len), len);
      const data = new AudioData({
        format: "f32-planar",
        sampleRate: SAMPLE_RATE,
        numberOfFrames: len,
        numberOfChannels: 2,
        timestamp: Math.round(((offset + k) * 1e6) / SAMPLE_RATE),
        data: planar,
      });
      enc.encode(data);
      data.close();
    }
  });
  await enc.flush();
  enc.close();
  if (failure) throw new Error(`audio encoding failed: ${String(failure)}`);
  return { chunks, meta, lufs };
}
