"""The ``synth`` music's arranger: tempo and key from the style and seed, intro/body/outro sections that
vary the progression and the drums, and each bar's chords, bass, arpeggios, melody and drum hits, played
into the mix buffer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .dsp import (
    _rng,
    _unit,
)
from .harmony import SCALES, _chord, _parse_key, _voicing
from .instruments import _DRUM_LEVEL, _DRUM_PAN, _DRUM_SEND, _Instruments, _Kit
from .mixer import (
    _Mixer,
)
from .synth_styles import _Style, _Voice

#: arpeggio orders: indexes into the voiced chord (+ the root an octave up)
_ARPS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3),
    (0, 1, 2, 3, 2, 1),
    (0, 2, 1, 3),
    (0, 2, 1, 2),
    (3, 2, 1, 0),
)


# ---- the composer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    start: int  # first bar
    progression: tuple[str, ...]
    density: int  # 0 light, 1 mid, 2 full
    arp: tuple[int, ...]
    melody: tuple[tuple[int, int, int], ...]  # (step in 2 bars, length in 16ths, scale degree)


class _Composer:
    def __init__(self, style_name: str, style: _Style, seed: int, sr: int, total: int) -> None:
        self.style = style
        self.sr = sr
        self.total = total
        self.seed = f"reelforge-synth:{style_name}:{seed}"
        lo, hi = style.tempo
        self.bpm = lo + int(_unit(self.seed, "tempo") * (hi - lo + 1))
        self.key = style.keys[int(_unit(self.seed, "key") * len(style.keys))]
        self.tonic, self.mode = _parse_key(self.key)
        self.scale = SCALES[self.mode]
        self.bar_s = 4 * 60.0 / self.bpm
        self.step_s = self.bar_s / 16
        bar_frames = self.bar_s * sr
        self.bars = max(1, math.ceil(total / bar_frames))
        # the final chord sounds at the last bar that has at least half a bar left to ring
        self.final = max(0, math.floor((total - 0.5 * bar_frames) / bar_frames))
        tb = self.final + 1
        self.n_intro, n_outro = (0, 1) if tb < 3 else (1, 1) if tb < 12 else (2, 2) if tb < 32 else (4, 2)
        self.outro = max(self.n_intro, self.final - n_outro + 1)
        self.first_prog = int(_unit(self.seed, "progression") * len(style.progressions))
        self._sections: dict[int, _Section] = {}
        self.inst = _Instruments(sr, self.seed, style.pad)
        self.kit = _Kit(sr, self.seed) if style.drums else None

    # -- structure

    def part(self, bar: int) -> str:
        if bar == self.final:
            return "final"
        if bar > self.final:
            return "tail"
        if bar < self.n_intro:
            return "intro"
        if bar >= self.outro:
            return "outro"
        return "body"

    def section(self, bar: int) -> _Section:
        idx = max(0, bar - self.n_intro) // self.style.section_bars
        sec = self._sections.get(idx)
        if sec is None:
            sec = self._make_section(idx)
            self._sections = {idx: sec}  # bars are composed in order: keep only the current one
        return sec

    def _make_section(self, idx: int) -> _Section:
        st = self.style
        rng = _rng(self.seed, "section", idx)
        progs = st.progressions
        if idx % 2 == 0:
            prog = progs[self.first_prog]
        else:
            others = [p for i, p in enumerate(progs) if i != self.first_prog]
            prog = others[int(rng.integers(len(others)))]
        body_bars = self.outro - self.n_intro
        if idx == 0:
            density = 2 if body_bars <= st.section_bars else 1
        else:
            density = int(rng.choice(3, p=(0.2, 0.3, 0.5)))
        arp = _ARPS[int(rng.integers(len(_ARPS)))]
        melody: tuple[tuple[int, int, int], ...] = ()
        if st.lead is not None and (idx % 2 == 1 or rng.random() < 0.3):
            melody = self._motif(rng)
        return _Section(self.n_intro + idx * st.section_bars, tuple(prog.split()), density, arp, melody)

    def _motif(self, rng: np.random.Generator) -> tuple[tuple[int, int, int], ...]:
        """A two-bar rhythm on the lead grid with a stepwise random walk over the scale."""
        grid = self.style.lead_grid
        slots = [s for s in range(0, 32, grid) if s == 0 or rng.random() < 0.55]
        notes = []
        degree = int(rng.integers(0, 5))
        for i, s in enumerate(slots):
            end = slots[i + 1] if i + 1 < len(slots) else 32
            length = min(end - s, 3 * grid)
            notes.append((s, length, degree))
            degree = int(np.clip(degree + rng.choice((-2, -1, -1, 1, 1, 2, 0)), 0, 9))
        return tuple(notes)

    def chord_symbol(self, bar: int) -> str:
        part = self.part(bar)
        if part in ("final", "tail"):
            return self.style.final
        if part == "outro":
            return self.style.cadence
        if part == "intro":
            prog = self.style.progressions[self.first_prog].split()
            return prog[(bar // self.style.bars_per_chord) % len(prog)]
        sec = self.section(bar)
        return sec.progression[((bar - sec.start) // self.style.bars_per_chord) % len(sec.progression)]

    def _group(self, bar: int) -> tuple[str, int]:
        part = self.part(bar)
        if part == "body":
            return part, (bar - self.n_intro) // self.style.section_bars
        return part, 0

    def _sustain(self, bar: int) -> int:
        """How many bars a chord sounding from ``bar`` lasts (until the chord or the part changes)."""
        k = 1
        while k < 4 and bar + k < self.final and self._same(bar + k, bar):
            k += 1
        return k

    def _same(self, a: int, b: int) -> bool:
        return self.chord_symbol(a) == self.chord_symbol(b) and self._group(a) == self._group(b)

    def _triggers(self, bar: int) -> bool:
        """Whether a chord (pad, sustained bass) starts at ``bar``: a new chord, part or section,
        or every 4 bars of an unchanged one (``_sustain`` holds a chord for at most 4 bars)."""
        if bar == 0 or bar == self.final:
            return True
        back = 0
        while back < 64 and bar - back - 1 >= 0 and self._same(bar - back - 1, bar):
            back += 1
        return back % 4 == 0

    # -- timing

    def pos(self, bar: int, step: float) -> int:
        swing = self.style.swing * self.step_s if int(step) % 2 == 1 else 0.0
        return round((bar * self.bar_s + step * self.step_s + swing) * self.sr)

    def frames(self, steps: float) -> int:
        return max(1, round(steps * self.step_s * self.sr))

    # -- one bar

    def bar(self, b: int, mix: _Mixer) -> None:
        part = self.part(b)
        if part == "tail":
            return
        st = self.style
        rng = _rng(self.seed, "bar", b)
        root, ivs = _chord(self.chord_symbol(b), self.mode)
        final = part == "final"
        start = self.pos(b, 0)
        to_end = self.total - start

        # pad (and a sustained bass) once per chord
        if self._triggers(b):
            hold = to_end if final else self.pos(b + self._sustain(b), 0) - start
            notes = _voicing(self.tonic, root, ivs, st.pad.low)
            mix.add(start, self.inst.pad(notes, hold), st.pad.level, send=st.pad.send)
            if st.bass_sustain and (part != "intro" or b >= self.n_intro // 2):
                self._bass(mix, start, root, 0, hold, 1.0)

        if final:
            self._final(b, mix, root, ivs, to_end)
            return

        density = self.section(b).density if part == "body" else 0
        sec = self.section(b) if part == "body" else None

        # bass line
        if not st.bass_sustain and (
            part in ("body", "outro") or (self.n_intro >= 2 and b >= self.n_intro // 2)
        ):
            if part == "outro":
                self._bass(mix, start, root, 0, self.frames(16), 1.0)
            else:
                for step, length, iv in st.bass_steps:
                    vel = 1.0 if step % 4 == 0 else 0.85
                    self._bass(mix, self.pos(b, step), root, iv, self.frames(length), vel)

        # block chords
        if st.chords is not None:
            steps = st.chord_steps if part == "body" else ((0, 8),)
            for step, length in steps:
                self._chord(mix, st.chords, self.pos(b, step), root, ivs, self.frames(length), rng)

        # arpeggio
        if st.arp is not None and (st.arp_always or (part == "body" and density >= 1)):
            order = sec.arp if sec is not None else _ARPS[0]
            level = 0.75 if part != "body" else 1.0
            notes = _voicing(self.tonic, root, ivs, st.arp.low)
            notes = (*notes, notes[0] + 12)
            for i, step in enumerate(range(0, 16, st.arp_rate)):
                if st.arp_prob < 1.0 and rng.random() >= st.arp_prob:
                    continue
                midi = notes[order[i % len(order)] % len(notes)]
                vel = level * (1.0 if step % 4 == 0 else 0.8) * (0.92 + 0.16 * rng.random())
                length = st.arp_rate if st.arp.inst != "bell" else 2
                self._play(mix, st.arp, self.pos(b, step), midi, self.frames(length), vel, rng)

        # melody
        if sec is not None and st.lead is not None and sec.melody and density >= 1:
            half = ((b - sec.start) % 2) * 16
            chord_pcs = {(self.tonic + root + iv) % 12 for iv in ivs}
            base = st.lead.low + (self.tonic - st.lead.low) % 12
            for step, length, degree in sec.melody:
                if not half <= step < half + 16:
                    continue
                midi = base + 12 * (degree // 7) + self.scale[degree % 7]
                if step % 8 == 0:  # strong beats land on a chord tone
                    midi = next((midi + d for d in (0, -1, 1, -2, 2) if (midi + d) % 12 in chord_pcs), midi)
                vel = 0.9 + 0.15 * rng.random()
                self._play(mix, st.lead, self.pos(b, step - half), midi, self.frames(length), vel, rng)

        # drums
        if self.kit is not None and st.drums is not None:
            self._drums(b, part, density, mix, rng)

    def _final(self, b: int, mix: _Mixer, root: int, ivs: tuple[int, ...], hold: int) -> None:
        st = self.style
        start = self.pos(b, 0)
        voice = st.chords or st.arp
        if voice is not None:
            if voice.inst in ("pluck", "strings", "mallet"):
                voice = _Voice("epiano", voice.level, voice.low, voice.send)
            rng = _rng(self.seed, "final")
            self._chord(mix, voice, start, root, ivs, hold, rng)
        if not st.bass_sustain:
            self._bass(mix, start, root, 0, hold, 1.0)
        if self.kit is not None:
            mix.add(start, self.kit.get(st.kick, 0), _DRUM_LEVEL[st.kick], send=_DRUM_SEND.get(st.kick, 0.0))
            crash = self.kit.get("crash", b)
            mix.add(start, crash, _DRUM_LEVEL["crash"], _DRUM_PAN["crash"], _DRUM_SEND["crash"])

    def _bass(self, mix: _Mixer, pos: int, root: int, iv: int, hold: int, vel: float) -> None:
        v = self.style.bass
        midi = v.low + (self.tonic + root - v.low) % 12 + iv
        mix.add(pos, self.inst.note(v.inst, midi, hold), v.level * vel, 0.0, v.send)

    def _chord(
        self,
        mix: _Mixer,
        voice: _Voice,
        pos: int,
        root: int,
        ivs: tuple[int, ...],
        hold: int,
        rng: np.random.Generator,
    ) -> None:
        notes = _voicing(self.tonic, root, ivs, voice.low)
        scale = 1.0 / math.sqrt(len(notes))
        for i, midi in enumerate(notes):
            vel = scale * (0.9 + 0.15 * rng.random())
            pan = -0.35 + 0.7 * i / max(1, len(notes) - 1)
            self._play(mix, voice, pos, midi, hold, vel, rng, pan)

    def _play(
        self,
        mix: _Mixer,
        voice: _Voice,
        pos: int,
        midi: int,
        hold: int,
        vel: float,
        rng: np.random.Generator,
        pan: float | None = None,
    ) -> None:
        variant = int(rng.integers(3)) if voice.inst == "pluck" else 0
        sig = self.inst.note(voice.inst, midi, hold, variant)
        if pan is None:
            pan = float(np.clip((midi - 66) / 24, -0.5, 0.5))
        gain = voice.level * vel
        mix.add(pos, sig, gain, pan, voice.send)
        if voice.echo:
            delay = self.frames(3)
            for k, (g, p) in enumerate(((0.28, 0.7), (0.16, -0.7), (0.08, 0.7)), start=1):
                mix.add(pos + k * delay, sig, gain * g, p, voice.send)

    def _drums(self, b: int, part: str, density: int, mix: _Mixer, rng: np.random.Generator) -> None:
        st = self.style
        assert self.kit is not None and st.drums is not None
        hits: list[tuple[str, int, float]] = []
        if part == "body":
            pattern = st.drums[density]
            for name, steps in pattern.items():
                hits.extend((name, s, v) for s, v in steps)
            sec = self.section(b)
            last_of_section = (b - sec.start) % st.section_bars == st.section_bars - 1
            if b == sec.start and density >= 1:
                hits.append(("crash", 0, 1.0))
            if last_of_section and b + 1 < self.outro and density >= 1:
                fill = "snare" if "snare" in pattern or "clap" in pattern else "tom"
                hits = [h for h in hits if h[1] < 12 or h[0] in ("hat", "shaker")]
                hits.extend((fill, s, 0.45 + 0.15 * i) for i, s in enumerate((12, 13, 14, 15)))
        elif part == "outro":
            if b == self.outro:
                hits.extend(((st.kick, 0, 1.0), ("crash", 0, 0.8)))
            else:
                hits.append((st.kick, 0, 0.8))
        elif part == "intro" and self.n_intro >= 2 and b == self.n_intro - 1:
            hits.extend(
                (name, s, v * 0.6) for name in ("hat", "shaker") for s, v in st.drums[0].get(name, ())
            )
        for name, step, vel in hits:
            sound = self.kit.get(name, b * 16 + step)
            v = vel * (0.93 + 0.1 * rng.random()) * _DRUM_LEVEL[name]
            mix.add(self.pos(b, step), sound, v, _DRUM_PAN.get(name, 0.0), _DRUM_SEND.get(name, 0.0))
