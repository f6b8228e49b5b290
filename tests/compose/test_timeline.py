from pathlib import Path

import pytest

from reelforge.compose.timeline import LEAD, TAIL, build_timeline, fit_scenes
from reelforge.errors import ComposeError
from reelforge.models import (
    Request,
    Scene,
    SceneAssets,
    SceneNarration,
    SceneVisual,
    SpokenSentence,
    Storyboard,
)
from reelforge.narration.piper import word_timings


def _sb(durations, title=2.0):
    scenes = tuple(
        Scene(index=i, narration="First sentence here. Second one. Third one.", visual="v", duration=d)
        for i, d in enumerate(durations)
    )
    return Storyboard(
        title="T", prompt="p", duration=title + sum(durations), title_duration=title, scenes=scenes
    )


def _narr(i, lengths):
    return SceneNarration(
        index=i,
        sentences=tuple(
            SpokenSentence(
                text=f"s{k}.",
                path=Path(f"/x/{i}-{k}.wav"),
                duration=d,
                sample_rate=22050,
                words=word_timings(f"s{k}.", d),
            )
            for k, d in enumerate(lengths)
        ),
    )


def test_trailing_sentences_are_dropped_whole_to_fit():
    sb = _sb([3.0, 3.0, 3.0])
    fit = fit_scenes(sb, [_narr(0, [1.2, 1.2, 1.0]), _narr(1, [1.0]), _narr(2, [2.0, 0.5])])
    assert [len(n.sentences) for n in fit.narrations] == [1, 1, 1]
    assert fit.durations == [3.0, 3.0, 3.0]
    assert fit.dropped == 3


def test_one_long_sentence_borrows_time_from_other_scenes():
    sb = _sb([3.0, 6.0, 6.0])
    fit = fit_scenes(sb, [_narr(0, [4.0]), _narr(1, [1.0]), _narr(2, [1.0])])
    assert fit.durations[0] == pytest.approx(LEAD + 4.0 + TAIL)
    assert sum(fit.durations) == pytest.approx(15.0)


def test_impossible_fit_is_a_clear_error():
    sb = _sb([3.0, 3.0, 3.0])
    with pytest.raises(ComposeError, match="does not fit"):
        fit_scenes(sb, [_narr(0, [8.0]), _narr(1, [2.3]), _narr(2, [2.3])])


def test_timeline_is_frame_exact_and_cues_stay_in_scene():
    sb = _sb([3.0, 2.5, 2.5])
    req = Request(prompt="p", duration=sb.duration, fps=30, resolution="480p")
    assets = [
        SceneAssets(
            scene=s,
            narration=_narr(i, [1.2, 0.8]),
            visual=SceneVisual(index=i, path=Path("/i.png"), width=10, height=10),
        )
        for i, s in enumerate(sb.scenes)
    ]
    tl, fitted = build_timeline(req, sb, assets, None)
    assert tl.frames == 300
    assert sum(s.frames for s in tl.segments) == tl.frames
    assert [s.kind for s in tl.segments] == ["title", "scene", "scene", "scene"]
    for seg in tl.segments[1:]:
        a, b = seg.start_frame / 30, (seg.start_frame + seg.frames) / 30
        for c in seg.cues:
            assert a <= c.start < c.end <= b
    assert fitted.duration == sb.duration
    assert abs(sum(s.duration for s in fitted.scenes) + fitted.title_duration - fitted.duration) < 1e-6
    # speech intervals are inside the scene bodies, after the lead-in
    assert tl.audio.speech[0][0] == pytest.approx(2.0 + LEAD)


def test_a_tight_short_video_borrows_from_the_title_card():
    sb = _sb([3.5], title=1.5)  # a 5 s video: one scene
    fit = fit_scenes(sb, [_narr(0, [3.4])])  # needs 3.4 + tight margins 0.25 = 3.65 s > 3.5 s
    assert fit.durations[0] >= 3.64
    assert fit.title >= 0.8 and abs(fit.title + sum(fit.durations) - 5.0) < 1e-9


def test_the_title_card_never_shrinks_below_its_minimum():
    sb = _sb([3.5], title=1.5)
    with pytest.raises(ComposeError, match="does not fit"):
        fit_scenes(sb, [_narr(0, [4.5])])


def _assets(sb, lengths):
    return [
        SceneAssets(
            scene=s,
            narration=_narr(i, lengths[i]),
            visual=SceneVisual(index=i, path=Path("/i.png"), width=10, height=10),
        )
        for i, s in enumerate(sb.scenes)
    ]


@pytest.mark.parametrize(
    ("durations", "title", "lengths"),
    [
        ([3.5], 1.5, [[3.4123]]),  # borrows from the title card
        ([3.0, 6.0, 6.0], 2.0, [[4.01234], [1.0], [1.0]]),  # borrows from other scenes
        ([3.6190476, 3.3968254], 0.9841270, [[1.1], [1.2]]),  # plan lengths off the millisecond grid
    ],
)
def test_the_saved_storyboard_fits_again_to_the_same_timeline(durations, title, lengths):
    """An edit re-fits the storyboard saved by the first render: nothing may move by a frame or a fade."""
    sb = _sb(durations, title=title)
    req = Request(prompt="p", duration=sb.duration, fps=30, resolution="480p")
    tl, fitted = build_timeline(req, sb, _assets(sb, lengths), None)
    assert fitted.title_duration == round(fitted.title_duration, 3)
    assert all(s.duration == round(s.duration, 3) for s in fitted.scenes)
    tl2, fitted2 = build_timeline(req, fitted, _assets(fitted, lengths), None)
    assert tl2 == tl
    assert fitted2 == fitted
