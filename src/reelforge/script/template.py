"""The ``template`` script writer: a deterministic, offline storyboard built from the prompt alone.

It knows nothing about the topic beyond the words of the prompt, so it reads the prompt (the topic
phrase, its subject, whether it is a question, its content words) and fills role-specific banks of
sentence templates, sized to each scene's word budget. The first sentence of every scene carries the
scene; later ones are optional extras the renderer may drop when speech runs long. Reading the prompt is
``topic.py``'s job and the banks live in ``phrases.py``; this module chooses and fills them.

Same request -> same storyboard: every choice comes from a ``random.Random`` seeded (through SHA-256)
with the request's seed and prompt.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Annotated, ClassVar

from pydantic import Field

from ..backend import Backend, BackendOptions
from ..models import Request, Scene, Storyboard
from ..text import clean, split_sentences, word_count
from .phrases import EXTRA, GENERAL_EXTRA, MAIN, REUSE_MAIN, SAFE, TINY, VISUALS
from .plan import DEFAULT_WPS, plan_durations, scene_roles, word_budget
from .topic import STOPWORDS, Topic, _capitalize, _norm, _possessive, analyse_topic, title_case

__all__ = [
    "STOPWORDS",
    "TemplatePieces",
    "TemplateWriter",
    "Topic",
    "analyse_topic",
    "title_case",
    "trim_to_words",
]

OVERRUN = 1.15  # never write more than this times the word budget
TARGET = 0.75  # try to fill at least this share of the word budget
TINY_BUDGET = 6  # at or below this many words a scene gets one short sentence
MAX_NARRATION_CHARS = 3900

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class _Template:
    text: str
    flags: str
    slots: frozenset[str]


def _parse(bank: Iterable[str]) -> tuple[_Template, ...]:
    out = []
    for entry in bank:
        flags, sep, text = entry.partition("|")
        if not sep:
            flags, text = "", entry
        out.append(_Template(text, flags, frozenset(s.lower() for s in _SLOT.findall(text))))
    return tuple(out)


_MAIN = {role: _parse(bank) for role, bank in MAIN.items()}
_EXTRA = {role: _parse(bank) for role, bank in EXTRA.items()}
_GENERAL = _parse(GENERAL_EXTRA)
_TINY = {role: _parse(bank) for role, bank in TINY.items()}
_VISUALS = {role: _parse(bank) for role, bank in VISUALS.items()}


def _plural_word(word: str) -> bool:
    return (
        len(word) > 3
        and word.isascii()
        and word.isalpha()
        and word == word.lower()
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is", "ics"))
    )


class _Writer:
    """Fills one storyboard; holds the choices made so far so that sentences are not repeated."""

    def __init__(self, topic: Topic, rng: random.Random) -> None:
        self.topic = topic
        self.rng = rng
        self.used: set[str] = set()  # sentences (casefolded) already in the storyboard
        self.tpl_uses: dict[str, int] = {}

    # -- rendering

    def values(self, kw_index: int) -> dict[str, str]:
        t = self.topic
        names = t.names
        vals = {"topic": t.phrase, "subject": t.subject, "kw": names[kw_index % len(names)]}
        if len(names) >= 2:
            vals["kw2"] = names[(kw_index + 1) % len(names)]
        if t.question:
            vals["question"] = t.question
        return vals

    def render(self, tpl: _Template, vals: dict[str, str]) -> str | None:
        if not tpl.slots <= vals.keys():
            return None
        if "q" in tpl.flags and "question" not in vals:
            return None
        if "p" in tpl.flags and not _plural_word(vals["kw"]):
            return None
        if "w" in tpl.flags and vals["topic"].startswith("whether "):
            return None
        used = [vals[s] for s in sorted(tpl.slots)]
        if len(used) > 1 and self._repeats(used):
            return None

        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            value = vals[name.lower()]
            return _capitalize(value) if name[:1].isupper() else value

        return clean(_SLOT.sub(fill, tpl.text))

    def _repeats(self, values: list[str]) -> bool:
        """True when two slot values would say the same keyword twice in one sentence."""
        bags = [[_norm(w) for w in v.split()] for v in values]
        for key in self.topic.keywords:
            counts = [bag.count(key) for bag in bags]
            if sum(counts) > max(counts):
                return True
        return False

    def ordered(
        self, templates: Sequence[_Template], vals_list: Sequence[dict[str, str]], prefer_topic: bool = False
    ) -> list[tuple[_Template, str]]:
        """Rendered candidates in a seeded order: least-used templates first, topic-bearing first if asked."""
        items: list[tuple[_Template, str]] = []
        seen: set[str] = set()
        for vals in vals_list:
            for tpl in templates:
                s = self.render(tpl, vals)
                if s and s.casefold() not in seen:
                    seen.add(s.casefold())
                    items.append((tpl, s))
        self.rng.shuffle(items)

        def rank(item: tuple[_Template, str]) -> tuple[int, int]:
            tpl = item[0]
            topical = 0 if "question" in tpl.slots else 1 if "topic" in tpl.slots else 2
            return (topical if prefer_topic else 0, self.tpl_uses.get(tpl.text, 0))

        items.sort(key=rank)
        return items

    # -- one scene

    def narration(self, role: str, kw_index: int, budget: int) -> list[str]:
        limit = max(1, int(budget * OVERRUN))
        vals = self.values(kw_index)
        chosen: list[tuple[_Template, str]] = []
        total = 0

        def take(item: tuple[_Template, str]) -> None:
            nonlocal total
            chosen.append(item)
            total += word_count(item[1])
            self.used.add(item[1].casefold())
            self.tpl_uses[item[0].text] = self.tpl_uses.get(item[0].text, 0) + 1

        mains = self.ordered(
            _MAIN.get(role, _MAIN["point"]), [vals], prefer_topic=role in ("hook", "closing")
        )
        tiny = self.ordered(_TINY.get(role, _TINY["point"]), [vals])
        first = (
            self._pick(mains, budget, fresh=True)
            or self._pick(mains, limit, fresh=True)
            or self._pick(tiny, limit, fresh=True)
            or self._pick(mains, budget, fresh=False)
            or self._pick(tiny, limit, fresh=False)
        )
        if first is None:
            first = (_Template(SAFE.get(role, SAFE["point"]), "", frozenset()), SAFE.get(role, SAFE["point"]))
        take(first)

        if budget > TINY_BUDGET:
            others = [
                self.values(kw_index + k)
                for k in range(1, min(len(self.topic.names), 4))
                if k % len(self.topic.names)
            ]
            extras = self.ordered(_EXTRA.get(role, ()), [vals])
            again = self.ordered(_MAIN[role], others) if role in REUSE_MAIN else []
            # alternate a general remark with a sentence about another keyword
            pool = [x for pair in zip_longest(extras, again) for x in pair if x is not None]
            pool += self.ordered(_GENERAL, [vals])
            in_scene = {s.casefold() for _, s in chosen}
            has_final = False
            for fresh, cap, goal in (
                (True, budget, budget),
                (True, limit, TARGET * budget),
                (False, limit, TARGET * budget),
            ):
                for item in pool:
                    if total >= goal:
                        break
                    key = item[1].casefold()
                    if key in in_scene or (fresh and key in self.used):
                        continue
                    if "1" in item[0].flags or ("f" in item[0].flags and has_final):
                        continue
                    if total + word_count(item[1]) <= cap:
                        take(item)
                        in_scene.add(key)
                        has_final = has_final or "f" in item[0].flags
        # closing remarks ("Thanks for watching.") go last
        sentences = [s for t, s in chosen if "f" not in t.flags] + [s for t, s in chosen if "f" in t.flags]
        while len(sentences) > 1 and len(" ".join(sentences)) > MAX_NARRATION_CHARS:
            sentences.pop()
        return sentences

    def _pick(
        self, items: list[tuple[_Template, str]], cap: int, fresh: bool
    ) -> tuple[_Template, str] | None:
        for item in items:
            if fresh and item[1].casefold() in self.used:
                continue
            if word_count(item[1]) <= cap:
                return item
        return None

    def visual(self, role: str, kw_index: int, last: str) -> str:
        options = self.ordered(_VISUALS.get(role, _VISUALS["point"]), [self.values(kw_index)])
        for _, text in options:
            if text != last:
                return text
        return options[0][1] if options else f"detailed view of {self.topic.subject}"


def _scene_keywords(keys: Sequence[str], focus: str, index: int, limit: int = 4) -> tuple[str, ...]:
    """The scene's emphasis first (the words of the thing its narration is about), then the other
    prompt keywords in rotation."""
    if not keys:
        return ()
    focus_words = {_possessive(w).lower() for w in focus.split()}
    first = [k for k in keys if k in focus_words]
    rotated = [keys[(index + k) % len(keys)] for k in range(len(keys))]
    return tuple(dict.fromkeys(first + rotated))[:limit]


class TemplatePieces:
    """The template writer one piece at a time: the title, and a scene's narration, visual and keywords.

    ``TemplateWriter`` is built on it, and the LLM writers use it as the fallback for any single piece a
    model gets wrong. Pieces asked for in scene order come out exactly as ``TemplateWriter`` writes them.
    """

    def __init__(self, request: Request, version: str = "1") -> None:
        self.topic = analyse_topic(request.prompt)
        digest = hashlib.sha256(
            f"reelforge.script.template/{version}\x00{request.seed}\x00{request.prompt}".encode(
                "utf-8", "surrogatepass"
            )
        ).digest()
        self._writer = _Writer(self.topic, random.Random(int.from_bytes(digest[:8], "big")))
        self._last_visual = ""

    @property
    def title(self) -> str:
        return self.topic.title

    def narration(self, role: str, index: int, budget: int) -> str:
        return " ".join(self._writer.narration(role, index, budget))

    def visual(self, role: str, index: int) -> str:
        self._last_visual = self._writer.visual(role, index, self._last_visual)
        return self._last_visual

    def keywords(self, index: int) -> tuple[str, ...]:
        names = self.topic.names
        return _scene_keywords(self.topic.keywords, names[index % len(names)], index)


def trim_to_words(text: str, max_words: int) -> str:
    """Whole leading sentences of ``text`` within ``max_words`` (at least the first sentence)."""
    sentences = split_sentences(text)
    if not sentences:
        return clean(text)
    kept = [sentences[0]]
    total = word_count(sentences[0])
    for s in sentences[1:]:
        n = word_count(s)
        if total + n > max_words:
            break
        kept.append(s)
        total += n
    return " ".join(kept)


class TemplateOptions(BackendOptions):
    words_per_second: Annotated[float, Field(ge=1.0, le=5.0)] = DEFAULT_WPS


class TemplateWriter(Backend):
    """Deterministic offline writer: no model, no network, same request -> same storyboard."""

    name: ClassVar[str] = "template"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "deterministic offline writer: scene plan from the duration, "
        "role-based narration sized to a word budget"
    )
    Options: ClassVar[type[BackendOptions]] = TemplateOptions

    @property
    def words_per_second(self) -> float:
        opts = self.options
        return opts.words_per_second if isinstance(opts, TemplateOptions) else DEFAULT_WPS

    def execute(self, request: Request) -> Storyboard:
        pieces = TemplatePieces(request, self.version)
        title_duration, durations = plan_durations(request.duration)
        roles = scene_roles(len(durations))
        scenes = []
        for i, (role, dur) in enumerate(zip(roles, durations, strict=True)):
            budget = word_budget(dur, self.words_per_second)
            narration = pieces.narration(role, i, budget)
            scenes.append(
                Scene(
                    index=i,
                    role=role,
                    narration=narration,
                    visual=pieces.visual(role, i),
                    keywords=pieces.keywords(i),
                    duration=dur,
                )
            )
        return Storyboard(
            title=pieces.title,
            prompt=request.prompt,
            duration=request.duration,
            title_duration=title_duration,
            scenes=tuple(scenes),
            writer=self.name,
        )

    def revise(self, scene: Scene, max_words: int, request: Request) -> Scene:
        """Shorten a scene's narration to ``max_words`` by dropping trailing whole sentences."""
        return scene.model_copy(update={"narration": trim_to_words(scene.narration, max_words)})
