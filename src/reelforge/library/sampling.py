"""Adaptive frame sampling in ONE sequential pass over the file (no seeks), and shot detection.

The file is demuxed once, packet by packet, and packets are grouped into GOPs (a keyframe and the packets
up to the next one). For every GOP we know, before decoding anything, which of the (at most ``max_frames``)
target times fall inside it:

* no target: nothing of the GOP is decoded (its packets are only read);
* targets near the keyframe (within half the target spacing): only the keyframe's own packet is decoded
  (one frame: the rest of the GOP is never handed to the decoder);
* a target deep inside a long GOP: the GOP is decoded in order up to that target, never further, with the
  decoder told to skip non-reference frames (``skip_frame="NONREF"``: frames no other frame depends on,
  about half of an x264 stream), so a sample lands on the nearest reference frame.

Each chosen frame is scaled down by libswscale (``reformat``) straight from the decoder: a small RGB
thumbnail for statistics and shot detection (and a 224-pixel one when a visual embedder wants pixels).
Per sample we keep the mean luma, its spread (black or blank frames) and the motion around it. Motion is
read from the packets, not from pixels: the mean size of the inter-coded (non-key) packets within half a
target spacing of the sample, in bits per pixel. The encoder spends those bits on what changed since the
frames it predicts from, so within one file it ranks moving stretches above still ones (all that
``retrieve.best_start`` asks of it) without decoding a second frame per sample. Shot boundaries come from
colour-histogram jumps between neighbouring samples, snapped to a keyframe between them when there is one
(encoders put keyframes on cuts).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from .probe import ProbeInfo, Rejected

MAX_FRAMES = 16
THUMB_WIDTH = 64
HIST_BINS = 8
CUT_DISTANCE = 0.45  # histogram distance (0..1, half the L1) above which neighbouring samples are two shots
MIN_SHOT = 0.5  # seconds: shorter "shots" are merged into their neighbour


@dataclass
class FrameSample:
    t: float  # seconds from the start of the file
    luma: float  # mean luma, 0..1
    contrast: float  # standard deviation of luma, 0..1 (near 0: a blank frame)
    motion: float  # inter-coded bits per pixel per frame around the sample (0 when unknown)
    keyframe: bool
    hist: np.ndarray = field(repr=False)  # normalised RGB histogram (3 * HIST_BINS)
    thumb: np.ndarray = field(repr=False)  # small RGB uint8 (h, w, 3)
    pixels: np.ndarray | None = field(default=None, repr=False)  # larger RGB for a visual embedder

    def stats(self) -> dict[str, float]:
        return {"t": round(self.t, 3), "luma": round(self.luma, 4), "contrast": round(self.contrast, 4),
                "motion": round(self.motion, 4), "key": int(self.keyframe)}  # fmt: skip

    @property
    def mean_rgb(self) -> tuple[float, float, float]:
        m = self.thumb.reshape(-1, 3).mean(axis=0)
        return float(m[0]), float(m[1]), float(m[2])


@dataclass
class Sampling:
    frames: list[FrameSample]
    keyframes: list[float]  # every keyframe time seen while demuxing
    decoded: int  # frames the decoder produced
    packets: int  # video packets read
    gops: int
    last_time: float  # the last packet's time: where the video data really ends
    warning: str | None = None


def targets_for(duration: float, max_frames: int = MAX_FRAMES) -> list[float]:
    """Target times spread over the duration: about two per second for short clips, at most ``max_frames``."""
    k = max(2, min(max_frames, math.ceil(duration * 2)))
    return [(i + 0.5) * duration / k for i in range(k)]


def _luma(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32) / 255.0
    out: np.ndarray = f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114
    return out


def _hist(rgb: np.ndarray) -> np.ndarray:
    q = (rgb.reshape(-1, 3).astype(np.int32) * HIST_BINS) // 256
    h = np.concatenate([np.bincount(q[:, c], minlength=HIST_BINS) for c in range(3)]).astype(np.float32)
    out: np.ndarray = h / max(1.0, float(h.sum()) / 3.0)
    return out


def sample_frames(path: Path, info: ProbeInfo, *, max_frames: int = MAX_FRAMES, pixels: int = 0,
                  container: Any = None) -> Sampling:  # fmt: skip
    """Sample up to ``max_frames`` frames in one sequential pass; ``pixels`` > 0 also keeps a copy scaled
    to that short side (for a visual embedder). ``container``: the file already open (from ``probe_open``,
    not yet read; closed here). Raises ``Rejected`` when nothing can be decoded."""
    targets = targets_for(info.duration, max_frames)
    spacing = info.duration / len(targets)
    tol = min(spacing / 2, 2.0)
    tw = THUMB_WIDTH
    th = max(2, round(tw * info.height / info.width / 2) * 2)
    pw = ph = 0
    if pixels > 0:
        scale = pixels / min(info.width, info.height)
        pw, ph = max(2, round(info.width * scale / 2) * 2), max(2, round(info.height * scale / 2) * 2)
    if container is None:
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError) as exc:
            raise Rejected(f"not a readable media file ({getattr(exc, 'strerror', None) or exc})") from None
    frames: list[FrameSample] = []
    keyframes: list[float] = []
    sizes: list[tuple[float, int, bool]] = []  # (time, bytes, keyframe) of every video packet
    stats = {"decoded": 0, "packets": 0, "gops": 0}
    last_time = 0.0
    warning: str | None = None
    try:
        stream = next(
            s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)
        )
        ctx = stream.codec_context
        ctx.thread_type = "SLICE"  # frame threads would delay output by several packets
        tb = stream.time_base or Fraction(1, 90000)
        t0 = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        next_target = 0  # index of the first target not yet satisfied
        nkeys = _keyframe_count(stream)
        if nkeys >= len(targets) / 2:  # dense keyframes: snap to them rather than decode into GOPs
            tol = max(spacing, 0.6 * info.duration / nkeys)  # (any target is within half a GOP of one)
        snap_next = False  # a target of the previous GOP is served by this GOP's keyframe
        half = 0.5 / max(info.fps, 1.0)

        def seconds(pts: int | None) -> float | None:
            return None if pts is None else float(pts * tb) - t0

        def sample(frame: av.VideoFrame, ft: float) -> None:
            rgb = frame.reformat(width=tw, height=th, format="rgb24").to_ndarray()
            y = _luma(rgb)
            big = frame.reformat(width=pw, height=ph, format="rgb24").to_ndarray() if pixels > 0 else None
            frames.append(FrameSample(t=ft, luma=float(y.mean()), contrast=float(y.std()), motion=0.0,
                                      keyframe=bool(frame.key_frame), hist=_hist(rgb), thumb=rgb,
                                      pixels=big))  # fmt: skip

        def decode_gop(gop: list[Any], start: float, end: float) -> None:
            nonlocal next_target, snap_next
            # targets inside this GOP's span: served by its keyframe, by the next GOP's keyframe, or decoded
            inside = []
            while next_target < len(targets) and targets[next_target] < end:
                inside.append(targets[next_target])
                next_target += 1
            at_key = snap_next or any(t - start <= tol and t - start <= end - t for t in inside)
            later = [t for t in inside if t - start > tol or (end - t < t - start)]
            snap_next = any(end - t <= tol and end < math.inf for t in later)
            deep = [t for t in later if not (end - t <= tol and end < math.inf)]
            if not at_key and not deep:
                return
            # the keyframe alone, or the GOP up to the last deep target without non-reference frames
            ctx.skip_frame = "NONREF" if deep else "DEFAULT"
            wanted = sorted(({start} if at_key else set()) | set(deep))
            w_i = 0

            def take(frame: av.VideoFrame) -> bool:
                """Keep the frame if it reaches the next wanted time; True once every wanted time is served."""
                nonlocal w_i
                stats["decoded"] += 1
                ft = seconds(frame.pts)
                if ft is not None and w_i < len(wanted) and ft >= wanted[w_i] - half:
                    while w_i < len(wanted) and wanted[w_i] - half <= ft:
                        w_i += 1
                    sample(frame, ft)
                return w_i >= len(wanted)

            done = False
            for pkt in gop if deep else gop[:1]:
                for frame in ctx.decode(pkt):
                    done = take(frame) or done
                if done:
                    break
            for frame in ctx.decode(None):  # drain what the decoder still holds
                if not done:
                    done = take(frame)
            ctx.flush_buffers()

        gop: list[Any] = []
        gop_start = 0.0
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0 or (pkt.dts is None and pkt.pts is None):
                    continue
                stats["packets"] += 1
                t = seconds(pkt.pts if pkt.pts is not None else pkt.dts)
                if t is not None:
                    last_time = max(last_time, t)
                    sizes.append((t, pkt.size, bool(pkt.is_keyframe)))
                if pkt.is_keyframe:
                    kt = t if t is not None else gop_start
                    keyframes.append(kt)
                    if gop:
                        stats["gops"] += 1
                        decode_gop(gop, gop_start, kt)
                    gop, gop_start = [pkt], kt
                elif gop:
                    gop.append(pkt)
            if gop:
                stats["gops"] += 1
                decode_gop(gop, gop_start, math.inf)
        except av.FFmpegError as exc:
            warning = f"corrupt data after {last_time:.1f} s ({getattr(exc, 'strerror', None) or exc})"
    finally:
        container.close()
    frames.sort(key=lambda f: f.t)
    if not frames:
        raise Rejected(warning or "no frame could be decoded (corrupt or unsupported video)")
    if last_time + max(1.0, 2 * spacing) < info.duration * 0.6:
        raise Rejected(f"truncated: the video data stops at {last_time:.1f} s of {info.duration:.1f} s")
    _packet_motion(frames, sizes, max(spacing / 2, 3.0 / max(info.fps, 1.0)), info.width * info.height)
    return Sampling(frames=frames, keyframes=keyframes, decoded=stats["decoded"], packets=stats["packets"],
                    gops=stats["gops"], last_time=last_time, warning=warning)  # fmt: skip


def _packet_motion(
    frames: list[FrameSample], sizes: list[tuple[float, int, bool]], window: float, area: int
) -> None:
    """Each sample's motion: the mean inter-coded packet size within ``window`` seconds, in bits per pixel
    (all packets when the stretch has no inter-coded one, as in all-intra codecs)."""
    if not sizes or area <= 0:
        return
    times = np.array([t for t, _, _ in sizes])
    order = np.argsort(times, kind="stable")
    times = times[order]
    nbytes = np.array([n for _, n, _ in sizes], dtype=np.float64)[order]
    inter = ~np.array([k for _, _, k in sizes], dtype=bool)[order]
    for f in frames:
        lo, hi = np.searchsorted(times, f.t - window), np.searchsorted(times, f.t + window, side="right")
        sel = nbytes[lo:hi][inter[lo:hi]]
        if sel.size == 0:
            sel = nbytes[lo:hi]
        f.motion = float(sel.mean()) * 8.0 / area if sel.size else 0.0


def _keyframe_count(stream: Any) -> int:
    """Keyframes in the container's index (MP4, MOV, MKV, AVI have one; 0 when there is none)."""
    try:
        return sum(1 for e in stream.index_entries if e.is_keyframe)
    except (AttributeError, TypeError, av.FFmpegError):
        return 0


def hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between two normalised histograms, averaged over the channels: 0..1."""
    return float(np.abs(a - b).sum()) / 6.0


@dataclass(frozen=True)
class Shot:
    start: float
    end: float
    frames: tuple[FrameSample, ...]


def detect_shots(
    s: Sampling, duration: float, *, fps: float = 25.0, threshold: float = CUT_DISTANCE
) -> list[Shot]:
    """Split the file into shots at histogram jumps between neighbouring samples."""
    frames = s.frames
    last = max(s.last_time, frames[-1].t) + 1.0 / max(fps, 1.0)  # the last frame lasts one frame
    end = min(duration, last) if s.last_time > 0 else duration
    cuts: list[float] = []
    for a, b in itertools.pairwise(frames):
        if hist_distance(a.hist, b.hist) < threshold:
            continue
        between = [k for k in s.keyframes if a.t < k <= b.t]
        mid = (a.t + b.t) / 2
        cuts.append(min(between, key=lambda k: abs(k - mid)) if between else mid)
    bounds = [0.0, *cuts, end]
    shots: list[tuple[float, float]] = []
    for lo, hi in itertools.pairwise(bounds):
        if shots and (hi - lo < MIN_SHOT or shots[-1][1] - shots[-1][0] < MIN_SHOT):
            shots[-1] = (shots[-1][0], hi)  # too short: merge with the previous shot
        else:
            shots.append((lo, hi))
    out = []
    for lo, hi in shots:
        inside = tuple(f for f in frames if lo <= f.t < hi) or (min(frames, key=lambda f: abs(f.t - lo)),)
        out.append(Shot(start=round(lo, 3), end=round(hi, 3), frames=inside))
    return out
