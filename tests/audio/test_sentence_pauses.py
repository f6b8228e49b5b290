"""The pause between sentences: configurable per narrator, carried into the timeline, never over 0.6 s."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from reelforge.audio_cli import apply_audio_flags
from reelforge.compose.timeline import MAX_PAUSE, build_timeline
from reelforge.errors import ReelforgeError
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
from reelforge.pipeline import Pipeline


def _assets(pause: float) -> tuple[Storyboard, list[SceneAssets]]:
    scene = Scene(index=0, narration="One. Two. Three.", visual="v", duration=10.0)
    sb = Storyboard(title="T", prompt="p", duration=12.0, title_duration=2.0, scenes=(scene,))
    sentences = tuple(
        SpokenSentence(
            text=t, path=Path(f"/x/{k}.wav"), duration=1.0, sample_rate=22050, words=word_timings(t, 1.0)
        )
        for k, t in enumerate(("One.", "Two.", "Three."))
    )
    narr = SceneNarration(index=0, sentences=sentences, pause=pause)
    vis = SceneVisual(index=0, path=Path("/x/v.png"), width=10, height=10)
    return sb, [SceneAssets(scene=scene, narration=narr, visual=vis)]


@pytest.mark.parametrize(("pause", "expected"), [(0.1, 0.1), (0.4, 0.4), (2.0, MAX_PAUSE)])
def test_timeline_places_sentences_with_the_pause_capped(pause: float, expected: float) -> None:
    sb, assets = _assets(pause)
    tl, _ = build_timeline(Request(prompt="p", duration=12.0), sb, assets, None)
    starts = [c.start for c in tl.audio.narration]
    assert [round(b - a, 4) for a, b in itertools.pairwise(starts)] == [1.0 + expected] * 2


def test_pipeline_uses_the_narrators_sentence_pause(make_settings, tmp_path: Path) -> None:
    settings = make_settings(
        writer="template", images="procedural", options={"piper": {"sentence_pause": 0.4}}
    )
    pipe = Pipeline(settings)
    narrator = pipe.backend("narration", "piper")
    scene = Scene(index=0, narration="Bees fly. Bees buzz.", visual="v", duration=5.0)
    sb = Storyboard(title="T", prompt="p", duration=6.0, title_duration=1.0, scenes=(scene,))
    narr = pipe._narrate_scene(narrator, narrator.identity(), sb, 0)
    assert narr.pause == 0.4 and len(narr.sentences) == 2


def test_cli_voice_and_music_flags_become_backend_options(make_settings, tmp_path: Path) -> None:
    s = make_settings(tts="piper")
    s2 = apply_audio_flags(s, length_scale=1.2, sentence_pause=0.3, voice_volume=0.8)
    assert s2.options_for("piper") == {"length_scale": 1.2, "sentence_pause": 0.3, "volume": 0.8}
    s3 = apply_audio_flags(s, music_dir=tmp_path)
    assert s3.music == "library" and s3.options_for("library")["dir"] == str(tmp_path.resolve())
    s4 = apply_audio_flags(make_settings(music="synth"), music_dir=tmp_path, music_chosen=True)
    assert s4.music == "synth"  # --music named explicitly wins
    with pytest.raises(ReelforgeError, match="not a folder"):
        apply_audio_flags(s, music_dir=tmp_path / "missing")
    assert apply_audio_flags(s) is s
