"""The ``synth`` music's style table: per style, the tempo range, keys, chord progressions, instruments,
pad, drum patterns, gain and reverb."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# ---- style table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Voice:
    inst: str  # epiano | pluck | bell | mallet | strings | sub | saw
    level: float
    low: int  # lowest MIDI note of the register
    send: float = 0.2  # reverb send
    echo: bool = False  # dotted-eighth ping-pong echo


@dataclass(frozen=True)
class _Pad:
    level: float
    attack: float
    release: float
    cutoff: float
    detune: float  # cents
    low: int
    send: float = 0.35


Pattern = tuple[tuple[int, float], ...]


def _p(text: str) -> Pattern:
    """A 16-step drum pattern: ``x`` accent, ``o`` normal, ``-`` ghost, ``.`` rest."""
    vel = {"x": 1.0, "o": 0.7, "-": 0.4}
    return tuple((i, vel[c]) for i, c in enumerate(text.replace(" ", "")) if c in vel)


@dataclass(frozen=True)
class _Style:
    tempo: tuple[int, int]
    keys: tuple[str, ...]  # "C major", ...: all of one mode
    progressions: tuple[str, ...]
    cadence: str  # the chord before the final one
    final: str
    pad: _Pad
    bass: _Voice
    bass_steps: tuple[tuple[int, int, int], ...]  # (step, length in 16ths, semitones above the root)
    gain: float  # master gain (calibrated: body RMS about -20 dBFS)
    rt60: float
    chords: _Voice | None = None  # block chords
    chord_steps: tuple[tuple[int, int], ...] = ()
    arp: _Voice | None = None
    arp_rate: int = 2  # 16ths per note
    arp_prob: float = 1.0
    arp_always: bool = False  # also in the intro and light sections
    lead: _Voice | None = None
    lead_grid: int = 2
    bass_sustain: bool = False  # one bass note per chord instead of bass_steps
    drums: Mapping[int, Mapping[str, Pattern]] | None = None  # density (0..2) -> drum -> pattern
    kick: str = "kick"
    swing: float = 0.0
    bars_per_chord: int = 1
    section_bars: int = 8

    @property
    def mode(self) -> str:
        return self.keys[0].split()[1]


STYLES: dict[str, _Style] = {
    "upbeat": _Style(
        tempo=(118, 128),
        keys=("C major", "G major", "D major", "F major"),
        progressions=("I V vi IV", "vi IV I V", "I vi IV V", "IV I V vi"),
        cadence="V",
        final="I",
        pad=_Pad(0.14, 0.02, 0.25, 2600, 14, 57, 0.25),
        chords=_Voice("epiano", 0.30, 60, 0.2),
        chord_steps=((2, 2), (6, 2), (10, 2), (14, 2)),
        arp=_Voice("pluck", 0.36, 67, 0.25, echo=True),
        arp_rate=1,
        lead=_Voice("bell", 0.20, 72, 0.3, echo=True),
        bass=_Voice("saw", 0.30, 36, 0.0),
        bass_steps=((2, 2, 0), (6, 2, 0), (10, 2, 0), (14, 2, 12)),
        drums={
            0: {"kick": _p("x...x...x...x..."), "hat": _p("..o...o...o...o.")},
            1: {
                "kick": _p("x...x...x...x..."),
                "clap": _p("....x.......x..."),
                "hat": _p("..o...o...o...o."),
            },
            2: {
                "kick": _p("x...x...x...x..."),
                "clap": _p("....x.......x..."),
                "hat": _p("--.---.---.---.-"),
                "ohat": _p("..o...o...o...o."),
            },
        },
        gain=0.31,
        rt60=1.4,
    ),
    "playful": _Style(
        tempo=(124, 138),
        keys=("F major", "C major", "G major", "D major"),
        progressions=("I IV V IV", "I vi ii V", "I IV I V", "IV V iii vi"),
        cadence="V",
        final="I",
        pad=_Pad(0.08, 0.05, 0.2, 2000, 8, 60, 0.2),
        chords=_Voice("mallet", 0.30, 60, 0.15),
        chord_steps=((4, 2), (12, 2)),
        arp=_Voice("pluck", 0.34, 72, 0.2, echo=True),
        arp_rate=2,
        lead=_Voice("mallet", 0.36, 72, 0.2),
        lead_grid=2,
        bass=_Voice("sub", 0.30, 36, 0.0),
        bass_steps=((0, 2, 0), (6, 1, 12), (8, 2, 7), (14, 1, 12)),
        drums={
            0: {"kick": _p("x.......x......."), "shaker": _p("-.o.-.o.-.o.-.o.")},
            1: {
                "kick": _p("x......xx......."),
                "clap": _p("....x.......x..."),
                "shaker": _p("-o-o-o-o-o-o-o-o"),
            },
            2: {
                "kick": _p("x......xx.....o."),
                "clap": _p("....x.......x..."),
                "hat": _p("..o...o...o...o."),
                "shaker": _p("-o-o-o-o-o-o-o-o"),
            },
        },
        swing=0.14,
        gain=0.35,
        rt60=1.2,
    ),
    "corporate": _Style(
        tempo=(100, 112),
        keys=("C major", "D major", "G major", "A major"),
        progressions=("I V vi IV", "IV I V vi", "vi IV I V", "I iii IV V"),
        cadence="V",
        final="I",
        pad=_Pad(0.14, 0.15, 0.6, 1800, 10, 55),
        chords=_Voice("epiano", 0.26, 60, 0.2),
        chord_steps=((0, 6), (6, 2), (8, 6), (14, 2)),
        arp=_Voice("pluck", 0.50, 67, 0.25, echo=True),
        arp_rate=2,
        lead=_Voice("bell", 0.22, 72, 0.3),
        lead_grid=2,
        bass=_Voice("sub", 0.28, 36, 0.0),
        bass_steps=tuple((s, 2, 7 if s == 14 else 0) for s in range(0, 16, 2)),
        drums={
            0: {"kick": _p("x.......x......."), "hat": _p("-.-.-.-.-.-.-.-.")},
            1: {
                "kick": _p("x.......x.x....."),
                "snare": _p("....x.......x..."),
                "hat": _p("-.o.-.o.-.o.-.o."),
            },
            2: {
                "kick": _p("x.......x.x....."),
                "snare": _p("....x.......x..."),
                "hat": _p("-.o.-.o.-.o.-.o."),
                "shaker": _p("-o-o-o-o-o-o-o-o"),
            },
        },
        gain=0.3,
        rt60=1.5,
    ),
    "calm": _Style(
        tempo=(68, 80),
        keys=("F major", "D major", "G major", "Eb major"),
        progressions=("I7 vi7 IV7 V", "Iadd9 iii7 IV7 IV", "vi7 IV7 I7 V", "IV7 I7 ii7 V"),
        cadence="IV7",
        final="Iadd9",
        pad=_Pad(0.18, 0.6, 1.5, 1300, 8, 55, 0.4),
        arp=_Voice("epiano", 0.26, 60, 0.3),
        arp_rate=2,
        arp_always=True,
        lead=_Voice("epiano", 0.24, 72, 0.35, echo=True),
        lead_grid=4,
        bass=_Voice("sub", 0.24, 36, 0.0),
        bass_steps=((0, 12, 0), (12, 4, 7)),
        gain=0.44,
        rt60=2.2,
    ),
    "ambient": _Style(
        tempo=(60, 70),
        keys=("D major", "E major", "C major", "F major"),
        progressions=("Iadd9 IVadd9", "vi IV I V", "I V vi IV", "IVadd9 Iadd9 vi7 V"),
        cadence="IVadd9",
        final="Iadd9",
        pad=_Pad(0.26, 2.0, 3.0, 1100, 10, 52, 0.5),
        arp=_Voice("bell", 0.22, 72, 0.5, echo=True),
        arp_rate=2,
        arp_prob=0.22,
        arp_always=True,
        bass=_Voice("sub", 0.20, 36, 0.0),
        bass_steps=(),
        bass_sustain=True,
        bars_per_chord=2,
        gain=0.46,
        rt60=3.2,
    ),
    "cinematic": _Style(
        tempo=(72, 88),
        keys=("D minor", "C minor", "E minor", "A minor"),
        progressions=("i VI III VII", "i iv VI V", "VI VII i i", "i VI iv V"),
        cadence="iv",
        final="i",
        pad=_Pad(0.22, 0.5, 1.2, 1500, 12, 50, 0.45),
        arp=_Voice("epiano", 0.30, 57, 0.3),
        arp_rate=2,
        lead=_Voice("bell", 0.18, 74, 0.45, echo=True),
        lead_grid=4,
        bass=_Voice("sub", 0.26, 36, 0.0),
        bass_steps=(),
        bass_sustain=True,
        drums={
            0: {"boom": _p("x...............")},
            1: {"boom": _p("x.......x......."), "tom": _p("..............o.")},
            2: {
                "boom": _p("x.....x.x......."),
                "tom": _p("....o.......o.oo"),
                "snare": _p("............x..."),
            },
        },
        kick="boom",
        gain=0.26,
        rt60=2.6,
    ),
    "dramatic": _Style(
        tempo=(84, 100),
        keys=("C minor", "D minor", "G minor", "E minor"),
        progressions=("i VI III VII", "i i VI V", "i iv VI V", "i VI VII VII"),
        cadence="V",
        final="i",
        pad=_Pad(0.18, 0.25, 0.8, 1100, 14, 48, 0.4),
        arp=_Voice("strings", 0.30, 55, 0.3),
        arp_rate=1,
        arp_always=True,
        bass=_Voice("saw", 0.28, 36, 0.0),
        bass_steps=((0, 3, 0), (3, 3, 0), (6, 2, 0), (8, 3, 0), (11, 3, 0), (14, 2, 12)),
        drums={
            0: {"kick": _p("x.....x.x.......")},
            1: {"kick": _p("x..x..x.x.x....."), "snare": _p("....x.......x...")},
            2: {
                "kick": _p("x..x..x.x.x....."),
                "snare": _p("....x.......x..."),
                "tom": _p("..............oo"),
                "hat": _p("..-...-...-...-."),
            },
        },
        gain=0.29,
        rt60=2.0,
    ),
}
