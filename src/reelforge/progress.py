"""How far a video is: the share of the work each pipeline stage stands for, and the overall fraction
from the stages' ``done``/``total`` counts. The service's job progress and ``reelforge batch``'s overall
bar both use it."""

from __future__ import annotations

from collections.abc import Mapping

#: how much of a video each stage is, roughly (for percentages and ETAs)
#: scenes stream (``preview``: each scene's segment rendered as soon as it is written), so the final
#: ``render`` mostly finds its segments done
STAGE_WEIGHTS = {
    "script": 0.2,
    "narration": 0.15,
    "visuals": 0.1,
    "preview": 0.3,
    "audio": 0.1,
    "render": 0.1,
    "mux": 0.05,
}


def overall_fraction(stages: Mapping[str, tuple[int, int]]) -> float:
    """0..1 from ``{stage: (done, total)}``; stages not seen yet count as not started."""
    f = 0.0
    for stage, w in STAGE_WEIGHTS.items():
        done, total = stages.get(stage, (0, 0))
        if total:
            f += w * min(1.0, done / total)
    return min(1.0, f)
