"""The final mix, measured: one short karaoke video is rendered, its narration and ducked-music stems are
rebuilt from the timeline's audio plan (the exact inputs of the mix), and the MP4's decoded audio is checked.

- ducking: music at least 15 dB under the voice while it speaks, back up at the title;
- captions: an energy VAD on the voice track agrees with the cue/word times within 150 ms;
- pauses: no silence longer than 0.6 s inside a scene's speech;
- no clicks at any join (segment boundaries, sentence starts and ends) of the final audio;
- karaoke: spoken words are drawn in the highlight colour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mediatools import frame_at, loudness

from reelforge.audio_decode import decode_audio
from reelforge.audio_io import read_wav
from reelforge.compose.audio import ATTACK, write_ducked_music, write_narration
from reelforge.config import load_settings
from reelforge.models import Request
from reelforge.pipeline import Pipeline

DUR = 16.0
VAD_FRAME = 0.01  # seconds
VAD_LEVEL = 0.01  # frame RMS above -40 dBFS is voice
QUIET_LEVEL = 0.005  # ... or above -46 dBFS, counting the soft ends of words ("follows" ends in a quiet z)
TOLERANCE = 0.15  # seconds: how closely captions must follow the speech
CLICK_RATIO = 5.0  # a join whose curvature peak stands out this much from its surroundings clicks


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("mix")
    settings = load_settings(
        None, cache_dir=root / "cache", writer="template", images="procedural", transition="fade"
    )  # karaoke is read off still frames: no slide under the text
    req = Request(prompt="How bees make honey", duration=DUR, resolution="480p", style="upbeat", seed=1,
                  karaoke=True)  # fmt: skip
    result = Pipeline(settings).make(req, root / "out" / "bees.mp4")
    tl = result.timeline
    write_narration(tl.audio, tl.duration, root / "voice.wav")
    write_ducked_music(tl.audio, tl.duration, root / "music.wav")
    voice, vsr = read_wav(root / "voice.wav")
    music, msr = read_wav(root / "music.wav")
    final, fsr = decode_audio(result.video, channels=2)
    return {"result": result, "timeline": tl, "voice": (voice, vsr), "music": (music, msr),
            "final": (final, fsr)}  # fmt: skip


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def vad(voice: np.ndarray, sr: int, level: float = VAD_LEVEL) -> np.ndarray:
    """Energy VAD: one bool per 10 ms frame."""
    win = int(VAD_FRAME * sr)
    n = len(voice) // win
    rms = np.sqrt(np.mean(np.square(voice[: n * win].reshape(n, win), dtype=np.float64), axis=1))
    return rms > level


def test_music_is_ducked_15_db_under_the_voice(mixed: dict[str, Any]) -> None:
    (voice, vsr), (music, msr) = mixed["voice"], mixed["music"]
    plan = mixed["timeline"].audio
    assert plan.music is not None and plan.speech
    depths = []
    for a, b in plan.speech:  # every sentence: voice power vs music power per channel
        v = voice[int(a * vsr) : int(b * vsr)]
        m = music[int(a * msr) : int(b * msr)]
        depths.append(db(v) - db(m))
    assert min(depths) >= 15.0, depths
    # and in 400 ms windows (EBU "momentary") where the VAD hears the voice in 80 % of the frames
    active = vad(voice, vsr)
    momentary = []
    for a, b in plan.speech:
        for t in np.arange(a, b - 0.4, 0.1):
            k = int(t / VAD_FRAME)
            if active[k : k + 40].mean() >= 0.8:
                v = voice[int(t * vsr) : int((t + 0.4) * vsr)]
                momentary.append(db(v) - db(music[int(t * msr) : int((t + 0.4) * msr)]))
    assert len(momentary) >= 10
    assert np.percentile(momentary, 5) >= 15.0, sorted(momentary)[:5]
    # the gain applied to the music (ducked stem over the generated track): back up when nobody speaks
    raw, _ = read_wav(plan.music)

    def gain(a: float, b: float) -> float:
        return db(music[int(a * msr) : int(b * msr)]) - db(raw[int(a * msr) : int(b * msr)])

    title = mixed["timeline"].segments[0]
    assert title.kind == "title"
    at_title = gain(0.2, title.frames / mixed["timeline"].fps - ATTACK)
    assert at_title == pytest.approx(plan.music_gain_db, abs=0.5)
    for a, b in plan.speech:
        assert gain(a, b) == pytest.approx(plan.music_gain_db + plan.duck_db, abs=0.5)
    gaps = [(b1 + 0.6, a2 - 0.3) for (_, b1), (a2, _) in zip(plan.speech, plan.speech[1:], strict=False)]
    gaps = [(a, b) for a, b in gaps if b - a > 0.3]  # a pause long enough for the music to come back
    assert gaps
    for a, b in gaps:
        assert gain(a, b) == pytest.approx(plan.music_gain_db, abs=0.5)


def test_captions_follow_the_voice(mixed: dict[str, Any]) -> None:
    voice, sr = mixed["voice"]
    tl = mixed["timeline"]
    active = vad(voice, sr, QUIET_LEVEL)
    words = [w for c in tl.cues for w in c.words]
    assert words, "karaoke cues carry their timed words"
    spans = list(tl.audio.speech)
    for k, (clip, (a, b)) in enumerate(zip(tl.audio.narration, spans, strict=True)):
        # look from halfway to the previous sentence to halfway to the next one
        lo_t = max(a - 0.3, (spans[k - 1][1] + a) / 2) if k else a - 0.3
        hi_t = min(b + 0.3, (b + spans[k + 1][0]) / 2) if k + 1 < len(spans) else b + 0.3
        lo, hi = int(lo_t / VAD_FRAME), int(hi_t / VAD_FRAME)
        frames = np.flatnonzero(active[lo:hi]) + lo
        assert frames.size, f"no voice heard for {clip.path}"
        onset, offset = frames[0] * VAD_FRAME, (frames[-1] + 1) * VAD_FRAME
        said = [w for w in words if a - 0.01 <= w.start <= b + 0.01]
        assert abs(said[0].start - onset) <= TOLERANCE, (said[0], onset)
        assert abs(said[-1].end - offset) <= TOLERANCE, (said[-1], offset)
        cues = [c for c in tl.cues if a - 0.01 <= c.start <= b]
        assert abs(cues[0].start - onset) <= TOLERANCE
        assert cues[-1].end >= offset - TOLERANCE  # shown until the sentence is said
    # every frame with voice lies inside a cue (give or take the tolerance)
    for k in np.flatnonzero(active):
        t = k * VAD_FRAME
        assert any(c.start - TOLERANCE <= t <= c.end + TOLERANCE for c in tl.cues), t


def test_no_long_silence_inside_a_scene(mixed: dict[str, Any]) -> None:
    voice, sr = mixed["voice"]
    tl = mixed["timeline"]
    active = vad(voice, sr)
    for seg in tl.segments:
        if seg.kind != "scene":
            continue
        a, b = seg.start_frame / tl.fps, (seg.start_frame + seg.frames) / tl.fps
        frames = np.flatnonzero(active[int(a / VAD_FRAME) : int(b / VAD_FRAME)])
        if frames.size < 2:
            continue
        gaps = np.diff(frames) - 1
        assert gaps.max() * VAD_FRAME <= 0.6, f"scene {seg.index}: {gaps.max() * VAD_FRAME:.2f} s of silence"


def click_score(audio: np.ndarray, sr: int, t: float, near: float = 0.003) -> float:
    """How much the signal's curvature (second difference) at ``t`` stands out from the 10-50 ms on either
    side (their 99th percentiles): about 1 for music and speech, well above for a click, a cut or a step.
    A natural onset is not a click: what follows it is as rough as the onset itself."""
    d2 = np.abs(np.diff(audio, n=2, axis=0))
    d2 = d2.max(axis=1) if d2.ndim > 1 else d2
    i = int(t * sr)
    peak = float(d2[max(0, i - int(near * sr)) : i + int(near * sr)].max())
    before = np.percentile(d2[max(0, i - int(0.05 * sr)) : max(1, i - int(0.01 * sr))], 99)
    after = np.percentile(d2[i + int(0.01 * sr) : i + int(0.05 * sr)], 99)
    return peak / max(float(before), float(after), 1e-4)


def test_no_clicks_at_joins(mixed: dict[str, Any]) -> None:
    final, sr = mixed["final"]
    tl = mixed["timeline"]
    assert abs(len(final) / sr - DUR) < 0.05
    # the sentences are placed with faded edges: the voice track has no step where a sentence starts or ends
    voice, vsr = mixed["voice"]
    for clip, (a, b) in zip(tl.audio.narration, tl.audio.speech, strict=True):
        x, _ = read_wav(clip.path)
        assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01
        assert abs(voice[round(a * vsr)]) < 0.01 and abs(voice[min(len(voice) - 1, round(b * vsr))]) < 0.01
    # and the final audio (decoded from the MP4) clicks at no join: segment boundaries, sentence starts/ends
    joins = [s.start_frame / tl.fps for s in tl.segments[1:]]
    joins += [t for ab in tl.audio.speech for t in ab]
    scores = {round(t, 3): round(click_score(final, sr, t), 2) for t in joins}
    assert max(scores.values()) < CLICK_RATIO, scores
    # the detector does hear a click: a 0.1 tick, a 0.05 step (-26 dBFS), the audio cut off at a loud sample
    at = joins[0]
    i = int(at * sr)
    tick, step, cut = final.copy(), final.copy(), final.copy()
    tick[i] += 0.1
    step[i:] += 0.05
    j = (
        i
        - int(0.003 * sr)
        + int(np.argmax(np.abs(final[i - int(0.003 * sr) : i + int(0.003 * sr)]).max(axis=1)))
    )
    cut[j + 1 :] = 0.0
    assert click_score(tick, sr, at) >= CLICK_RATIO
    assert click_score(step, sr, at) >= CLICK_RATIO
    if np.abs(final[j]).max() > 0.05:
        assert click_score(cut, sr, at) >= CLICK_RATIO


def test_final_loudness_and_true_peak(mixed: dict[str, Any]) -> None:
    i, tp = loudness(mixed["result"].video)
    assert -15.0 <= i <= -13.0
    assert tp <= -1.0 + 0.3  # the ebur128 meter's resolution


def test_karaoke_highlights_the_spoken_words(mixed: dict[str, Any]) -> None:
    """Text pixels that were white when the cue appeared are gold once their word has been spoken
    (the still moves slowly, the subtitle does not: only text changes colour between the two frames; the
    bottom fifth holds nothing but subtitles, while a plan's labels above it may come in between them)."""
    tl = mixed["timeline"]
    cue = max(tl.cues, key=lambda c: len(c.words))
    k = len(cue.words) // 2  # words 0..k-1 have been said, k.. not yet
    said = (cue.words[k - 1].start + cue.words[k].start) / 2

    def colours(t: float) -> tuple[np.ndarray, np.ndarray]:
        f = frame_at(mixed["result"].video, t)[int(tl.height * 0.8) :].astype(int)
        r, g, b = f[..., 0], f[..., 1], f[..., 2]
        gold = (r > 200) & (g > 160) & (g < 235) & (b < 90)  # &H0000D7FF: words already spoken
        white = (r > 225) & (g > 225) & (b > 225)  # words still to come
        return gold, white

    gold0, white0 = colours(cue.start + 0.01)
    gold1, white1 = colours(said)
    text = white0.sum()
    assert text > 500, "the cue's words are drawn white"
    assert (white0 & gold1).sum() > 0.15 * text  # the words said so far turned gold
    assert (white0 & white1).sum() > 0.15 * text  # the rest are still white
    assert (gold0 & white1).sum() < 0.02 * text  # nothing goes back


def test_stems_are_what_the_mix_used(mixed: dict[str, Any], tmp_path: Path) -> None:
    """The rebuilt stems are deterministic functions of the plan (the mix's own inputs)."""
    tl = mixed["timeline"]
    write_narration(tl.audio, tl.duration, tmp_path / "again.wav")
    again, _ = read_wav(tmp_path / "again.wav")
    assert np.array_equal(again, mixed["voice"][0])
