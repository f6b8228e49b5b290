"""The shape of a storyboard before any words exist: how many scenes, which roles, how long each.

All script writers can share it. Durations are in seconds, rounded to 0.01 s, and always add up to the
requested duration exactly (the last scene absorbs the rounding).
"""

from __future__ import annotations

import math

#: no scene is ever planned shorter than this (seconds)
MIN_SCENE = 1.5
#: a scene shorter than this can't hold a spoken sentence plus its fades, so short videos get fewer scenes
COMFORT_SCENE = 2.5
MAX_SCENES = 60
TITLE_SHARE = 0.08
TITLE_MIN = 1.5
TITLE_MAX = 3.0
#: seconds of every scene reserved for fades and the lead-in before the voice starts
LEAD_IN = 0.6
DEFAULT_WPS = 2.5

#: relative length of a scene by role: the hook is a little shorter, key points get the most room
ROLE_WEIGHTS: dict[str, float] = {
    "hook": 0.85,
    "context": 1.0,
    "point": 1.15,
    "example": 1.05,
    "closing": 0.9,
}


def scene_count(duration: float) -> int:
    """Scenes for a video of ``duration`` seconds (before the minimum-length check in ``plan_durations``)."""
    if duration <= 20:
        return 3
    if duration <= 45:
        return 4
    if duration <= 90:
        return 5
    return min(MAX_SCENES, 5 + math.ceil((duration - 90) / 30))


def title_duration(duration: float) -> float:
    """Length of the title card: 8 % of the video, clamped to 1.5-3 s."""
    return round(min(max(TITLE_SHARE * duration, TITLE_MIN), TITLE_MAX), 2)


def scene_roles(n: int) -> list[str]:
    """Roles for ``n`` scenes: hook, context, points (with an example every third slot), closing.

    ``3 -> hook, point, closing``; ``4 -> hook, context, point, closing``;
    ``5 -> hook, context, point, example, closing``; longer lists get more points and examples.
    """
    if n <= 0:
        return []
    if n == 1:
        return ["point"]
    if n == 2:
        return ["hook", "closing"]
    if n == 3:
        return ["hook", "point", "closing"]
    middle = n - 3
    roles = ["hook", "context"]
    for i in range(middle):
        if middle == 2 and i == 1:
            roles.append("example")
        else:
            roles.append("example" if i % 3 == 2 else "point")
    roles.append("closing")
    return roles


def _spread(total: float, weights: list[float], minimum: float) -> list[float]:
    """Share ``total`` in proportion to ``weights`` with no share below ``minimum`` (water filling)."""
    fixed: set[int] = set()
    while True:
        free = [i for i in range(len(weights)) if i not in fixed]
        budget = total - minimum * len(fixed)
        wsum = sum(weights[i] for i in free)
        shares = [minimum] * len(weights)
        for i in free:
            shares[i] = budget * weights[i] / wsum
        low = [i for i in free if shares[i] < minimum]
        if not low or len(low) == len(free):
            if low:  # everything is at the floor: share equally
                return [total / len(weights)] * len(weights)
            return shares
        fixed.update(low)


def _to_cents(shares: list[float], total_cents: int, floor_cents: int) -> list[int]:
    """Round shares (seconds) to whole centiseconds summing to ``total_cents`` (largest remainder)."""
    scaled = [s * 100 for s in shares]
    cents = [math.floor(x + 1e-9) for x in scaled]
    order = sorted(range(len(shares)), key=lambda i: (-(scaled[i] - cents[i]), i))
    diff = total_cents - sum(cents)
    k = 0
    while diff > 0:
        cents[order[k % len(order)]] += 1
        diff -= 1
        k += 1
    k = 0
    while diff < 0 and k < 10 * len(order) + 10:  # only float noise gets here
        i = order[-1 - (k % len(order))]
        if cents[i] > floor_cents:
            cents[i] -= 1
            diff += 1
        k += 1
    return cents


def plan_durations(duration: float) -> tuple[float, list[float]]:
    """``(title_duration, scene durations)`` for a video of ``duration`` seconds.

    ``title_duration + sum(scenes) == duration`` (to 1e-6); every scene is at least ``MIN_SCENE``
    seconds, and very short videos get fewer scenes (about one per ``COMFORT_SCENE`` seconds).
    """
    duration = float(duration)
    if not math.isfinite(duration) or duration < TITLE_MIN + MIN_SCENE:
        raise ValueError(
            f"cannot plan a {duration:g} s video: it must be at least {TITLE_MIN + MIN_SCENE:g} s"
        )
    title = title_duration(duration)
    rest = duration - title
    n = max(1, min(scene_count(duration), int(rest / COMFORT_SCENE + 1e-9)))
    weights = [ROLE_WEIGHTS.get(r, 1.0) for r in scene_roles(n)]
    shares = _spread(rest, weights, MIN_SCENE)
    cents = _to_cents(shares, math.floor(rest * 100 + 1e-6), round(MIN_SCENE * 100))
    scenes = [c / 100 for c in cents[:-1]]
    scenes.append(round(duration - title - sum(scenes), 6))
    return title, scenes


def word_budget(scene_duration: float, words_per_second: float = DEFAULT_WPS) -> int:
    """Words of narration that fit a scene, leaving ``LEAD_IN`` seconds for fades (at least 3)."""
    return max(3, math.floor((scene_duration - LEAD_IN) * words_per_second + 1e-9))


#: read by the narrator once per voice to measure its speaking rate (typical narration: 4 sentences)
CALIBRATION_TEXT = (
    "Honey bees visit hundreds of flowers every single day. "
    "They carry the sweet nectar home to the hive, where other workers take it and pass it along. "
    "Slowly, the water dries out, and the thin nectar turns into thick, golden honey. "
    "Finally, the bees seal each cell with a lid of wax, and the honey keeps for months."
)
MIN_WPS = 1.0
MAX_WPS = 5.0


def speaking_rate(words: int, seconds: float) -> float:
    """Words per second, clamped to what the writers accept and rounded (a stable cache key)."""
    if seconds <= 0 or words <= 0:
        return DEFAULT_WPS
    return round(min(MAX_WPS, max(MIN_WPS, words / seconds)), 2)
