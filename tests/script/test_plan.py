"""The scene plan: scene counts, roles, durations that add up exactly, word budgets."""

from __future__ import annotations

import pytest

from reelforge.models import MAX_DURATION, MIN_DURATION
from reelforge.script.plan import MIN_SCENE, plan_durations, scene_roles, title_duration, word_budget


@pytest.mark.parametrize(
    ("duration", "scenes"),
    [
        (5, 1),
        (6, 1),
        (8, 2),
        (9.1, 3),
        (20, 3),
        (21, 4),
        (30, 4),
        (45, 4),
        (60, 5),
        (90, 5),
        (91, 6),
        (300, 12),
        (1800, 60),
    ],
)
def test_scene_count(duration: float, scenes: int) -> None:
    _, durations = plan_durations(duration)
    assert len(durations) == scenes


DURATIONS = [
    MIN_DURATION,
    5.5,
    6,
    7.77,
    8,
    13.3,
    20,
    29.99,
    30,
    37.123,
    45,
    60,
    61.01,
    90,
    90.5,
    123.456,
    300,
]
DURATIONS += [599.99, 1000, 1799.99, MAX_DURATION]


@pytest.mark.parametrize("duration", DURATIONS)
def test_durations_add_up_and_respect_the_minimum(duration: float) -> None:
    title, scenes = plan_durations(duration)
    assert abs(title + sum(scenes) - duration) < 1e-6
    assert all(s >= MIN_SCENE - 1e-9 for s in scenes), scenes
    assert 1.5 <= title <= 3.0
    # every scene but the last is rounded to the centisecond; the last absorbs the rounding
    assert all(abs(s * 100 - round(s * 100)) < 1e-6 for s in scenes[:-1])
    assert len(scenes) == len(scene_roles(len(scenes)))


def test_title_duration_is_clamped() -> None:
    assert title_duration(5) == 1.5
    assert title_duration(30) == pytest.approx(2.4)
    assert title_duration(60) == 3.0
    assert title_duration(1800) == 3.0


def test_roles_weight_the_durations() -> None:
    _, scenes = plan_durations(60)
    roles = scene_roles(len(scenes))
    by_role = dict(zip(roles, scenes, strict=True))
    assert by_role["hook"] < by_role["context"] < by_role["point"]
    assert by_role["example"] < by_role["point"]
    assert by_role["closing"] < by_role["point"]


def test_roles() -> None:
    assert scene_roles(3) == ["hook", "point", "closing"]
    assert scene_roles(4) == ["hook", "context", "point", "closing"]
    assert scene_roles(5) == ["hook", "context", "point", "example", "closing"]
    assert scene_roles(2) == ["hook", "closing"]
    for n in (6, 7, 12, 60):
        roles = scene_roles(n)
        assert len(roles) == n
        assert roles[:2] == ["hook", "context"] and roles[-1] == "closing"
        assert roles.count("point") > roles.count("example") >= 1
        assert set(roles[2:-1]) <= {"point", "example"}
    assert scene_roles(12).count("example") >= 2


def test_word_budget() -> None:
    assert word_budget(5.0) == 11  # (5.0 - 0.6) * 2.5
    assert word_budget(2.6, 3.0) == 6
    assert word_budget(1.5) == 3  # floor, never below 3
    assert word_budget(0.5) == 3
    assert word_budget(10.0, 5.0) > word_budget(10.0, 2.5) > word_budget(10.0, 1.0)


def test_too_short_or_invalid_duration() -> None:
    with pytest.raises(ValueError):
        plan_durations(2.0)
    with pytest.raises(ValueError):
        plan_durations(float("nan"))
