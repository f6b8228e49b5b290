"""The checks every piece an LLM writes goes through: within its word budget, on topic, no repetition of
earlier scenes (word trigram overlap), complete sentences and no meta text ("Sure! Here is ..."). Each
check returns a ``Verdict`` whose ``note`` says what to fix when the piece is asked for again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..text import clean, split_sentences, word_count
from .prompts import ROLE_TASKS
from .template import trim_to_words
from .topic import STOPWORDS, Topic, title_case

#: a narration may run this much over its word budget (the renderer drops trailing sentences if needed)
OVERRUN = 1.1
#: ... and should fill at least this share of it
MIN_FILL = 0.45
#: share of a passage's word trigrams that may already appear in earlier scenes
MAX_OVERLAP = 0.3
#: same for picture descriptions
MAX_VISUAL_OVERLAP = 0.35
MAX_KEYWORDS = 6
TITLE_MAX_CHARS = 70

# ---- validation ------------------------------------------------------------------------------

_LABEL = re.compile(
    r"^\s*(?:\*\*|#+\s*)?(?:title|narration|narrator|text|scene\s*\d*|hook|opening|closing|ending|context|"
    r"background|point|example|answer|output|picture|image|visual|description|rewrite|rewritten text)"
    r"\s*(?:\d+\s*)?(?:\*\*)?\s*[:\-–—]\s*",
    re.I,
)
_QUOTE_CHARS = "\"'“”‘’«»`"
_MARKDOWN = re.compile(r"[*_#`]+")
_META = [
    re.compile(r"^\s*(?:sure|certainly|of course|okay|ok|absolutely|alright)\b", re.I),
    re.compile(
        r"\bhere(?:'s|’s| is| are)\b.{0,40}\b(?:narration|title|script|scene|version|description|keywords?|"
        r"sentences?|paragraph|rewrite|text|answer|points?|list)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:as an ai|language model|i can(?:'|’)?t|i cannot|i'm sorry|i am sorry|apologi[sz]e)\b", re.I
    ),
    re.compile(
        r"\b(?:narration|narrator|narrative|storyboard|word count|words long|the user|the prompt|"
        r"(?:this|the|next|previous) scene)\b",
        re.I,
    ),
    re.compile(r"https?://|www\.|[{}<>\[\]|@\\]"),
]
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I’m|I've|I'd|I'll)\b|\b(?:me|my|mine|myself)\b", re.I)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
#: topic words too general to prove a passage is on topic when the prompt has better ones
_GENERIC = frozenset(
    {
        "history", "story", "science", "facts", "fact", "life", "world", "guide", "basics", "secret",
        "secrets", "introduction", "importance", "benefits", "process", "role", "origin", "origins",
        "evolution", "future", "power", "work", "reason", "reasons", "tips", "idea", "ideas", "kind",
        "kinds", "type", "types", "part", "parts", "time", "year", "years", "day", "days",
    }
)  # fmt: skip


def words_of(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def stem(word: str) -> str:
    w = word.lower().replace("’", "'")
    w = re.sub(r"'s$", "", w)
    for suffix, repl, min_len in (("ies", "y", 5), ("sses", "ss", 5), ("ches", "ch", 5), ("shes", "sh", 5),
                                  ("xes", "x", 4), ("ing", "", 6), ("ed", "", 5), ("s", "", 4)):  # fmt: skip
        if (
            w.endswith(suffix)
            and len(w) >= min_len
            and not (suffix == "s" and w.endswith(("ss", "us", "is")))
        ):
            return w[: len(w) - len(suffix)] + repl
    return w


def same_word(a: str, b: str) -> bool:
    """``a`` and ``b`` (stems) name the same thing: equal, or one a prefix of the other (5+ letters)."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 5 and long_.startswith(short)


def topic_terms(topic: Topic) -> list[str]:
    """Stems that prove a text is about the topic: its keywords, generic ones only when nothing else."""
    keys = [k for k in topic.keywords if k.isalpha() or any(c.isalnum() for c in k)]
    specific = [k for k in keys if k not in _GENERIC]
    return [stem(k) for k in (specific or keys)]


def mentions(text: str, terms: Sequence[str], every: bool = False) -> bool:
    """``text`` names one of the topic ``terms`` (stems), or all of them when ``every``."""
    if not terms:
        return True
    stems = {stem(w) for w in words_of(text)}
    found = [any(same_word(s, t) for s in stems) for t in terms]
    return all(found) if every else any(found)


def _trigrams(text: str) -> set[tuple[str, ...]]:
    w = [stem(x) for x in words_of(text)]
    return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}


def overlap(text: str, earlier: Sequence[str]) -> float:
    """Share of ``text``'s word trigrams that already occur in ``earlier`` texts (0..1)."""
    mine = _trigrams(text)
    if not mine:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    for e in earlier:
        seen |= _trigrams(e)
    return len(mine & seen) / len(mine)


def repetitive(text: str) -> bool:
    """The text repeats itself: a sentence twice, a trigram three times, or too few distinct words."""
    sentences = [" ".join(words_of(s)) for s in split_sentences(text)]
    if len(set(sentences)) < len(sentences):
        return True
    w = words_of(text)
    grams = [tuple(w[i : i + 3]) for i in range(len(w) - 2)]
    if grams and max(grams.count(g) for g in set(grams)) >= 3:
        return True
    content = [stem(x) for x in w if x not in STOPWORDS]
    if len(content) >= 3 and len(set(content)) / len(content) < 0.5:
        return True
    return any(content.count(c) > max(3, len(content) // 4) for c in set(content))


def _content_trigrams(text: str) -> set[tuple[str, ...]]:
    w = [stem(x) for x in words_of(text) if x not in STOPWORDS and x not in ("a", "an", "the")]
    return set(zip(w, w[1:], w[2:], strict=False))


#: the requests' own wording; a reply that repeats it is talking about the task, not the topic
_TASK_GRAMS = set().union(*(_content_trigrams(t) for t in ROLE_TASKS.values()))
_DANGLING = frozenset(
    {"a", "an", "the", "to", "of", "and", "or", "but", "with", "from", "into", "their", "its", "his", "her",
     "our", "your", "my", "which", "who", "by", "than", "very", "it's", "they've", "we've", "you've", "they're",
     "we're", "you're", "there's", "what's"}
)  # fmt: skip
_CUT_END = re.compile(r"[,;:'’\-]\s*[.!?]$")


def meta_problem(text: str) -> bool:
    """Comments about the task instead of the content: "Sure! Here is ...", or the request echoed."""
    if any(p.search(text) for p in _META):
        return True
    return bool(_content_trigrams(text) & _TASK_GRAMS)


def cut_sentence(text: str) -> bool:
    """A sentence that stops mid-thought: "... and add it to!" or a stray letter "p."."""
    for sentence in split_sentences(text):
        w = words_of(sentence)
        if _CUT_END.search(sentence):
            return True
        if not w or w[-1] in _DANGLING or (len(w[-1]) == 1 and w[-1] not in "ai0123456789"):
            return True
    return False


def tidy(text: str) -> str:
    """A model's reply without labels, markdown and wrapping quotes, on one line."""
    lines = []
    for line in text.replace("\r", "\n").split("\n"):
        line = _MARKDOWN.sub("", _LABEL.sub("", line)).strip()
        line = re.sub(r"^(?:[-•]\s+|\d+[.)]\s+)", "", line)
        if line:
            lines.append(line)
    out = clean(" ".join(lines))
    while len(out) >= 2 and out[0] in _QUOTE_CHARS and out[-1] in _QUOTE_CHARS + ".!?":
        end = len(out) - 1 if out[-1] in _QUOTE_CHARS else len(out)
        inner = out[1:end].rstrip(_QUOTE_CHARS)
        if not inner or inner == out:
            break
        out = inner.strip()
    return out


def complete_sentences(text: str) -> str:
    """Drop an unfinished trailing sentence (a reply cut off by the token limit)."""
    sentences = split_sentences(text)
    while len(sentences) > 1 and sentences[-1][-1] not in ".!?…\"'”’)":
        sentences.pop()
    if sentences and sentences[-1][-1] not in ".!?…\"'”’)":
        return ""
    return " ".join(sentences)


@dataclass(frozen=True)
class Verdict:
    """A checked piece: the cleaned text when it is usable, else what the model should fix."""

    text: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_narration(
    raw: str, budget: int, terms: Sequence[str], earlier: Sequence[str], names: str, strict: bool = False
) -> Verdict:
    """Validate one scene's narration; too-long passages keep their leading whole sentences in budget."""
    text = complete_sentences(tidy(raw))
    if not text:
        return Verdict("", "write complete sentences that end with a period")
    if meta_problem(text):
        return Verdict(text, "write only the words the narrator says, with no comments")
    if _FIRST_PERSON.search(text):
        return Verdict(text, "do not speak about yourself; speak to the viewer")
    if cut_sentence(text):
        return Verdict(text, "finish every sentence")
    limit = budget if strict else max(budget, int(budget * OVERRUN))
    too_long = word_count(text) > limit
    if too_long:
        text = trim_to_words(text, budget)
        if word_count(text) > limit:
            return Verdict(text, f"use at most {budget} words")
    if word_count(text) < max(3, math.ceil(budget * MIN_FILL)) and not strict:
        # a long reply whose whole sentences don't fit: ask for shorter sentences, not for more words
        return Verdict(
            text,
            f"use at most {budget} words, in short sentences" if too_long else f"write about {budget} words",
        )
    if repetitive(text):
        return Verdict(text, "do not repeat yourself")
    if not mentions(text, terms):
        return Verdict(text, f"talk about {names}")
    if earlier and overlap(text, earlier) > MAX_OVERLAP:
        return Verdict(text, "say something new; do not repeat the earlier scenes")
    return Verdict(text)


def check_title(raw: str, terms: Sequence[str], names: str) -> Verdict:
    text = tidy(raw).rstrip(" .;,-–—:")
    n = word_count(text)
    if not text or n < 2:
        return Verdict(text, "write a title of 3 to 7 words")
    if n > 10 or len(text) > TITLE_MAX_CHARS:
        return Verdict(text, "use at most 7 words")
    if meta_problem(text) or _FIRST_PERSON.search(text):
        return Verdict(text, "write only the title")
    if repetitive(text) or len({stem(w) for w in words_of(text)}) < len(words_of(text)) - 1:
        return Verdict(text, "do not repeat words")
    if not words_of(text) or words_of(text)[-1] in {
        "a",
        "an",
        "the",
        "of",
        "to",
        "and",
        "or",
        "in",
        "on",
        "for",
        "with",
    }:
        return Verdict(text, "finish the title")
    if not mentions(text, terms[:3], every=True):
        return Verdict(text, f"the title must name {names}")
    if text == text.lower() or text == text.upper():
        text = title_case(text.lower())
    return Verdict(text)


def split_visual(raw: str) -> tuple[str, list[str]]:
    """``(picture description, keywords)`` from a ``... \\nKeywords: a, b, c`` reply."""
    parts = re.split(r"\b(?:search\s+)?key\s*words?\s*:", raw, maxsplit=1, flags=re.I)
    desc = parts[0]
    keys = re.split(r"[,;\n]", parts[1]) if len(parts) > 1 else []
    return desc, [k for k in (clean(_MARKDOWN.sub("", x)).strip(" .-'\"").lower() for x in keys) if k]


def clean_keywords(candidates: Sequence[str], context: str, limit: int = MAX_KEYWORDS) -> list[str]:
    """Keywords made of words that occur (as stems) in ``context``; no stopwords-only or duplicates."""
    ctx = {stem(w) for w in words_of(context)}
    out: list[str] = []
    for cand in candidates:
        ws = words_of(cand)[:3]
        while ws and ws[-1] in STOPWORDS:
            ws.pop()
        while ws and ws[0] in STOPWORDS:
            ws.pop(0)
        if not ws or any(len(w) > 30 for w in ws):
            continue
        if not all(any(same_word(stem(w), c) for c in ctx) for w in ws):
            continue
        k = " ".join(ws)
        if k not in out:
            out.append(k)
        if len(out) >= limit:
            break
    return out


def check_visual(
    raw: str, narration: str, terms: Sequence[str], earlier: Sequence[str], prompt: str
) -> tuple[Verdict, list[str]]:
    desc_raw, keys = split_visual(raw)
    desc = tidy(desc_raw)
    if not keys and desc[-1:] not in (".", "!"):  # cut off by the token limit
        return Verdict(desc, "describe the picture in at most 20 words"), []
    if cut_sentence(desc):
        return Verdict(desc, "describe the picture in at most 20 words"), []
    desc = desc.rstrip(" .")
    n = word_count(desc)
    if n < 4:
        return Verdict(desc, "describe the picture in one full sentence"), []
    if n > 40:
        return Verdict(desc, "use at most 25 words"), []
    if meta_problem(desc) or _FIRST_PERSON.search(desc):
        return Verdict(desc, "describe only what the picture shows"), []
    if repetitive(desc):
        return Verdict(desc, "do not repeat yourself"), []
    content = {stem(w) for w in words_of(narration) if w not in STOPWORDS}
    if not mentions(desc, terms) and not any(same_word(stem(w), c) for w in words_of(desc) for c in content):
        return Verdict(desc, "show something this scene talks about"), []
    if earlier and overlap(desc, earlier) > MAX_VISUAL_OVERLAP:
        return Verdict(desc, "describe a different picture from the earlier scenes"), []
    return Verdict(desc), clean_keywords(keys, f"{desc} {narration} {prompt}")


def check_outline(raw: str, items: int, terms: Sequence[str]) -> list[str]:
    """Usable outline points (possibly fewer than asked; empty when none is usable)."""
    out: list[str] = []
    for line in raw.replace("\r", "\n").split("\n"):
        text = tidy(line).rstrip(" .;,:-")
        ws = text.split()
        while ws and ws[-1].lower().strip(",.") in STOPWORDS:
            ws.pop()
        text = " ".join(ws).rstrip(",;:")
        if not (2 <= len(ws) <= 14) or meta_problem(text) or _FIRST_PERSON.search(text) or repetitive(text):
            continue
        if out and overlap(text, out) > MAX_VISUAL_OVERLAP:
            continue
        out.append(text)
        if len(out) >= items:
            break
    return out
