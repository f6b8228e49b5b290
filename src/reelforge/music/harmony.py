"""Keys, scales and chord symbols (``"vi7"``, ``"IVadd9"``) for the ``synth`` music, and close voicings."""

from __future__ import annotations

import re

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_NUMERALS = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}
_CHORD_RE = re.compile(r"(?P<num>[ivIV]+)(?P<ext>7|add9|sus2|sus4)?")

# ---- harmony ------------------------------------------------------------------------------------


def _parse_key(key: str) -> tuple[int, str]:
    name, mode = key.split()
    return NOTE_NAMES.index(name), mode


def _chord(symbol: str, mode: str) -> tuple[int, tuple[int, ...]]:
    """Root (semitones above the tonic) and intervals above the root of a roman-numeral chord."""
    m = _CHORD_RE.fullmatch(symbol)
    if m is None:
        raise ValueError(f"bad chord symbol {symbol!r}")
    num, ext = m.group("num"), m.group("ext")
    scale = SCALES[mode]
    degree = _NUMERALS[num.lower()]
    root = scale[degree]
    third = 4 if num.isupper() else 3
    ivs = [0, third, 7]
    if ext == "7":
        ivs.append((scale[(degree + 6) % 7] - root) % 12)
    elif ext == "add9":
        ivs.append(14)
    elif ext == "sus2":
        ivs[1] = 2
    elif ext == "sus4":
        ivs[1] = 5
    return root, tuple(ivs)


def _voicing(tonic: int, root: int, ivs: tuple[int, ...], low: int) -> tuple[int, ...]:
    """The chord tones placed in the octave [low, low + 12), ascending (a close voicing)."""
    out = []
    for iv in ivs:
        pc = (tonic + root + iv) % 12
        out.append(low + (pc - low) % 12)
    return tuple(sorted(set(out)))
