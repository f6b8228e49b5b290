"""Benchmark the ``illustrated`` visuals backend: icon-embedding build time, then per scene the visual plan
(planning is timed for the whole storyboard and divided by its scenes) and the drawing of the plan.

    .venv/bin/python bench/bench_illustrated.py            # 1080p sources (2208x1242), 8 scenes
    .venv/bin/python bench/bench_illustrated.py --size 1472x828 --scenes 16

The first number is the one-time cost of embedding the icon names (MiniLM in numpy) into an empty cache;
the second is loading them back from that cache; then the storyboard is planned and every scene is drawn
(the backdrop and the plan's layers, saved as PNGs), as the pipeline does. CPU time is printed beside wall
time: on a busy machine it is the steadier number. The issue's goal: at most 0.5 s CPU per 1080p scene.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reelforge.embed import default_embedder
from reelforge.models import ImageRequest, Scene, Storyboard
from reelforge.visuals import icons
from reelforge.visuals.illustrated import IllustratedImages

#: narrations that call for each layout (the planner reads what a scene says)
SAID = [
    "Bees visit thousands of flowers every day.",
    "Bees turn nectar into honey inside the hive.",
    "A single hive can make up to 100 pounds of honey a year.",
    "A hive needs flowers, water and warmth.",
    "Honey keeps for years, while sugar syrup spoils in weeks.",
    "A dog loves to play in the park.",
    "Coffee wakes you up before work.",
    "A doctor listens to your heart with a stethoscope.",
    "The sun sets over the ocean every evening.",
    "That is why honey is worth every drop. Thanks for watching.",
]
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
        fw, fh = round(w / 1.15 / 2) * 2, round(h / 1.15 / 2) * 2
        scenes = tuple(
            Scene(index=i, narration=SAID[i % len(SAID)], visual=SCENES[i % len(SCENES)][0],
                  keywords=SCENES[i % len(SCENES)][1], duration=5.0)
            for i in range(args.scenes)
        )  # fmt: skip
        sb = Storyboard(title="How bees make honey", prompt="How bees make honey", duration=5.0 * len(scenes),
                        title_duration=0, scenes=scenes)  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        sb = backend.plan_storyboard(sb)
        plan_wall, plan_cpu = (
            (time.perf_counter() - t0) / len(scenes),
            (time.process_time() - c0) / len(scenes),
        )
        print(f"plan {len(scenes)} scenes: {plan_wall:.3f} s wall, {plan_cpu:.3f} s CPU per scene")
        walls, cpus = [], []
        for i, scene in enumerate(sb.scenes):
            req = ImageRequest(scene=scene, title=sb.title, style=STYLES[i % len(STYLES)], width=w, height=h,
                               seed=i // len(SCENES), frame_width=fw, frame_height=fh)  # fmt: skip
            folder = Path(tmp) / f"scene{i}"
            folder.mkdir()
            t0, c0 = time.perf_counter(), time.process_time()
            visual = backend.execute(req, folder / "image.png")
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            plan = scene.plan
            assert plan is not None
            print(f"  scene {i:2d} {req.style:<9} {walls[-1]:5.3f} s wall {cpus[-1]:5.3f} s CPU  "
                  f"[{plan.layout}: {', '.join(it.label for it in plan.items) or plan.text}; "
                  f"{len(visual.layers)} layers]")  # fmt: skip
        print(f"per scene ({w}x{h} backdrop, {fw}x{fh} layers; draw + PNGs): median {statistics.median(walls):.3f} s "
              f"wall, {statistics.median(cpus):.3f} s CPU; max {max(walls):.3f} s wall; "
              f"with planning {statistics.median(cpus) + plan_cpu:.3f} s CPU")  # fmt: skip


if __name__ == "__main__":
    main()
