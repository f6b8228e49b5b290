"""Small text utilities shared by the stages: cleaning user text, sentence splitting, word counts."""

from __future__ import annotations

import re
import unicodedata

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=\S)")
_WS = re.compile(r"\s+")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+", re.IGNORECASE)


def clean(text: str) -> str:
    """Return ``text`` with control/format characters removed and whitespace collapsed.

    Keeps every printable character (emoji, RTL, combining marks) so user text is shown literally.
    """
    out = []
    for ch in text:
        if ch in "\t\n\r\v\f":
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat == "Cs":  # controls, NUL, lone surrogates
            continue
        out.append(ch)
    return _WS.sub(" ", "".join(out)).strip()


def split_sentences(text: str) -> list[str]:
    """Split narration into sentences on terminal punctuation; never splits inside a word."""
    text = clean(text)
    if not text:
        return []
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if p]


def word_count(text: str) -> int:
    return len([w for w in _WS.split(text.strip()) if w])


def syllables(word: str) -> int:
    """Rough English syllable count (>= 1), used to spread word timings inside a sentence."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 1
    n = len(_VOWEL_GROUPS.findall(w))
    if w.endswith("e") and n > 1 and not w.endswith("le"):
        n -= 1
    return max(1, n)


def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-zA-Z0-9]+", "-", unicodedata.normalize("NFKD", text)).strip("-").lower()
    return s[:limit] or "video"
