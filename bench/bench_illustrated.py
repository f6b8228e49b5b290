"""Benchmark the ``illustrated`` visuals backend: icon-embedding build time and per-image time.

    .venv/bin/python bench/bench_illustrated.py            # 1080p sources (2208x1242), 8 scenes
    .venv/bin/python bench/bench_illustrated.py --size 1472x828 --scenes 16

The first number is the one-time cost of embedding the icon names (MiniLM in numpy) into an empty cache;
the second is loading them back from that cache; then every scene is drawn and saved as PNG, as the
pipeline does. CPU time is printed beside wall time: on a busy machine it is the steadier number.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reelforge.embed import default_embedder
from reelforge.models import ImageRequest, Scene
from reelforge.visuals import icons
from reelforge.visuals.illustrated import IllustratedImages

SCENES = [
    ("eye-catching macro view of bees, crisp detail, soft bokeh background", ("bees", "honey")),
    ("calm overview of honey and the world around it, gentle morning light", ("honey", "bees")),
    ("a honey bee collecting nectar from a flower", ("bees", "nectar")),
    ("peaceful final view of honey, soft focus, warm sunset colors", ("honey", "bees")),
    ("a rocket launching into space", ("rocket",)),
    ("a dog playing in the park", ("dog",)),
    ("a cup of hot coffee on a desk with a laptop", ("coffee", "work")),
    ("a doctor with a stethoscope in a hospital", ("health",)),
    ("the sun setting over the ocean", ("sunset",)),
    ("a mountain covered in snow", ("mountain",)),
]
STYLES = ("calm", "upbeat", "dramatic", "corporate", "ambient", "cinematic", "playful")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="2208x1242", help="WxH of the stills (default: a 1080p source)")
    ap.add_argument("--scenes", type=int, default=8)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

    with tempfile.TemporaryDirectory(prefix="reelforge-bench-") as tmp:
        cache = Path(tmp) / "embeddings"
        emb = default_embedder()
        t0, c0 = time.perf_counter(), time.process_time()
        emb.embed(["warm up"])  # load the weights (not part of the index build)
        print(f"load MiniLM weights:        {time.perf_counter() - t0:6.2f} s")
        n_names = sum(len(i.names) for i in icons.vocabulary())
        t0, c0 = time.perf_counter(), time.process_time()
        icons.icon_index(emb, cache)
        print(f"embed {len(icons.vocabulary())} icons ({n_names} names): "
              f"{time.perf_counter() - t0:6.2f} s wall, {time.process_time() - c0:6.2f} s CPU")  # fmt: skip
        icons._indexes.clear()  # now from the disk cache, as a new process would
        icons._by_embedder.clear()
        t0 = time.perf_counter()
        icons.icon_index(emb, cache)
        print(f"load cached icon index:     {time.perf_counter() - t0:6.2f} s")

        backend = IllustratedImages({"cache_dir": str(cache)})
        walls, cpus = [], []
        for i in range(args.scenes):
            visual, keywords = SCENES[i % len(SCENES)]
            scene = Scene(index=i, narration="-", visual=visual, keywords=keywords, duration=5.0)
            req = ImageRequest(scene=scene, title="Benchmark", style=STYLES[i % len(STYLES)], width=w,
                               height=h, seed=i // len(SCENES))  # fmt: skip
            t0, c0 = time.perf_counter(), time.process_time()
            backend.execute(req, Path(tmp) / f"scene{i}.png")
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            names = ", ".join(p.icon.names[0] for p in backend.pick(req))
            print(f"  scene {i:2d} {req.style:<9} {walls[-1]:5.3f} s wall {cpus[-1]:5.3f} s CPU  [{names}]")
        print(f"per image ({w}x{h}, pick + draw + PNG): median {statistics.median(walls):.3f} s wall, "
              f"{statistics.median(cpus):.3f} s CPU; max {max(walls):.3f} s wall")  # fmt: skip


if __name__ == "__main__":
    main()
