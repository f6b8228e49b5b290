"""What the LLM script writers (``local``, ``openai``) share: prompts, validators and the piece-by-piece
storyboard builder.

A small model writes a usable storyboard only in small, checked pieces. ``StoryboardBuilder`` plans the
video with ``plan.py`` (scene count, roles, durations, word budgets) and then asks the model for: an
outline of the middle scenes, the title, one narration passage per scene (given its role, its word budget,
its outline point and the scene written just before it), and one picture description plus retrieval
keywords per scene. Every piece is validated: length within its budget, on topic, no repetition of
earlier scenes (word n-gram overlap), no meta text ("Sure! Here is ..."). A piece that fails is asked for
again with a new seed, a warmer temperature and a note saying what to fix; after ``attempts`` tries the
template writer writes that one piece, and the rest of the storyboard stays the model's.

A strong model can instead write the whole storyboard in one structured call (``Draft``); its pieces go
through the same validators and only the bad ones are asked for again one by one.

The user's prompt always travels as quoted data inside the user message, never in the system prompt.

This module holds the builder and the writers' base class; what is said to the model is in ``prompts.py``,
the checks in ``checks.py`` and the one-call storyboard in ``draft.py``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from ..backend import Backend, BackendOptions
from ..errors import ScriptError
from ..models import Request, Scene, Storyboard
from .base import ScriptHead, StoryPart, assemble
from .checks import (
    MAX_KEYWORDS,
    MAX_OVERLAP,
    Verdict,
    check_narration,
    check_outline,
    check_title,
    check_visual,
    clean_keywords,
    overlap,
    repetitive,
    tidy,
    topic_terms,
)
from .draft import (
    Draft,
    ScenePlan,
    make_plan,
    parse_draft,
    parse_json_object,
    proposed_plan,
    storyboard_messages,
    storyboard_schema,
)
from .plan import DEFAULT_WPS
from .prompts import (
    SYSTEM,
    Message,
    narration_messages,
    outline_messages,
    revise_messages,
    sentence_chars,
    sentence_count,
    title_messages,
    visual_messages,
)
from .template import TemplatePieces, trim_to_words
from .topic import analyse_topic

#: re-exported: what the writers and the tests import from here
__all__ = [
    "MAX_OVERLAP", "SYSTEM", "Ask", "Draft", "LLMOptions", "LLMWriter", "ScenePlan", "StoryboardBuilder",
    "check_narration", "check_outline", "check_title", "check_visual", "clean_keywords", "overlap",
    "parse_draft", "parse_json_object", "repetitive", "storyboard_messages", "storyboard_schema", "tidy",
    "topic_terms",
]  # fmt: skip

log = logging.getLogger("reelforge.script")

PieceKind = Literal["outline", "title", "narration", "visual", "revise"]

MAX_OUTLINE = 6
#: pieces in a row that fell back, with none accepted, before the model is not asked any more
GIVE_UP_AFTER = 3


# ---- the builder -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """One request to a model. Local models turn ``kind``/``sentences``/``items`` into a grammar."""

    kind: PieceKind
    messages: list[Message]
    max_tokens: int
    temperature: float
    seed: int
    sentences: int = 3
    items: int = 3
    #: most characters per sentence (local grammars), so a small model can't run far past its budget
    sentence_chars: int = 220


Complete = Callable[[Ask], str]


def piece_seed(seed: int, *parts: object) -> int:
    digest = hashlib.sha256("\x00".join(str(p) for p in (seed, *parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class StoryboardBuilder:
    """Writes one storyboard piece by piece with a model (``complete``), validating every piece."""

    def __init__(
        self,
        complete: Complete,
        request: Request,
        *,
        writer: str,
        words_per_second: float = DEFAULT_WPS,
        temperature: float = 0.3,
        attempts: int = 3,
        outline: bool = True,
    ) -> None:
        self.complete = complete
        self.request = request
        self.writer = writer
        self.wps = words_per_second
        self.temperature = temperature
        self.attempts = attempts
        self.use_outline = outline
        self.topic = analyse_topic(request.prompt)
        self.terms = topic_terms(self.topic)
        self.names = " or ".join(self.topic.names[:2]) or self.topic.subject
        self.template = TemplatePieces(request)
        self.title_duration, self.plan = make_plan(request.duration, words_per_second)
        self.fallbacks: list[str] = []
        self.accepted = 0  # pieces the model got right

    def _temperature(self, attempt: int) -> float:
        return min(1.2, self.temperature + 0.25 * attempt)

    def _try(
        self, what: str, make: Callable[[int, str | None], Ask], check: Callable[[str], Verdict]
    ) -> Verdict:
        """Ask up to ``attempts`` times; a failed try's problem becomes a note in the next request.

        A model that has got nothing right after three pieces (a prompt it can't handle: another
        language, only emoji) is not asked again; the template writes the rest."""
        note: str | None = None
        verdict = Verdict("", "the model got the first pieces all wrong")
        hopeless = self.accepted == 0 and len(self.fallbacks) >= GIVE_UP_AFTER
        for attempt in range(0 if hopeless else self.attempts):
            reply = self.complete(make(attempt, note))
            verdict = check(reply)
            if verdict.ok:
                self.accepted += 1
                return verdict
            log.debug(
                "%s: %s attempt %d rejected (%s): %r", self.writer, what, attempt + 1, verdict.problem, reply
            )
            note = verdict.problem
        log.info("%s: %s fell back to the template writer (%s)", self.writer, what, verdict.problem)
        self.fallbacks.append(what)
        return verdict

    # -- pieces

    def outline(self) -> list[str]:
        middle = max(0, len(self.plan) - 2)
        if not self.use_outline or middle == 0:
            return []
        items = min(middle, MAX_OUTLINE)
        seed = self.request.seed
        for attempt in range(self.attempts):
            ask = Ask("outline", outline_messages(self.request.prompt, items), 16 * items + 8,
                      self._temperature(attempt), piece_seed(seed, "outline", attempt), items=items)  # fmt: skip
            points = check_outline(self.complete(ask), items, self.terms)
            if points:
                return points
        log.info("%s: no usable outline; scenes are written without one", self.writer)
        return []

    def title(self, candidate: str | None = None) -> str:
        def check(reply: str) -> Verdict:
            return check_title(reply, self.terms, " and ".join(self.topic.names[:3]))

        if candidate is not None and (v := check(candidate)).ok:
            return v.text

        def make(attempt: int, note: str | None) -> Ask:
            return Ask("title", title_messages(self.request.prompt, note), 24, self._temperature(attempt),
                       piece_seed(self.request.seed, "title", attempt))  # fmt: skip

        v = self._try("title", make, check)
        return v.text if v.ok else self.template.title

    def narration(
        self, i: int, earlier: Sequence[str], focus: str | None = None, candidate: str | None = None
    ) -> str:
        p = self.plan[i]

        def check(reply: str) -> Verdict:
            return check_narration(reply, p.budget, self.terms, earlier, self.names)

        if candidate is not None and (v := check(candidate)).ok:
            return v.text
        before = earlier[-1] if earlier else None

        def make(attempt: int, note: str | None) -> Ask:
            msgs = narration_messages(
                self.request.prompt, p.role, i, len(self.plan), p.budget, focus, before, note
            )
            return Ask("narration", msgs, int(p.budget * 1.6) + 16, self._temperature(attempt),
                       piece_seed(self.request.seed, "narration", i, attempt),
                       sentences=sentence_count(p.budget) + 1,
                       sentence_chars=sentence_chars(p.budget))  # fmt: skip

        v = self._try(f"scene {i + 1} narration", make, check)
        return v.text if v.ok else self.template.narration(p.role, i, p.budget)

    def visual(
        self, i: int, narration: str, earlier: Sequence[str], candidate: dict[str, Any] | None = None
    ) -> tuple[str, tuple[str, ...]]:
        keys: list[str] = []

        def check(reply: str) -> Verdict:
            nonlocal keys
            verdict, keys = check_visual(reply, narration, self.terms, earlier, self.request.prompt)
            return verdict

        v: Verdict | None = None
        if candidate is not None:
            desc = candidate.get("visual")
            kws = candidate.get("keywords")
            kw_list = [k for k in kws if isinstance(k, str)] if isinstance(kws, list) else []
            if isinstance(desc, str):  # a whole answer, not one cut off: end it like a sentence
                desc = desc.strip().rstrip(".") + "."
                v = check(f"{desc}\nKeywords: {', '.join(kw_list)}")
        if v is None or not v.ok:

            def make(attempt: int, note: str | None) -> Ask:
                return Ask("visual", visual_messages(self.request.prompt, narration, note), 72,
                           self._temperature(attempt), piece_seed(self.request.seed, "visual", i, attempt))  # fmt: skip

            v = self._try(f"scene {i + 1} visual", make, check)
        template_keys = self.template.keywords(i)
        if not v.ok:
            return self.template.visual(self.plan[i].role, i), template_keys
        merged = list(dict.fromkeys([*keys, *template_keys]))[:MAX_KEYWORDS]
        return v.text, tuple(merged)

    # -- the whole storyboard

    def stream(self, draft: Draft | None = None) -> Iterator[StoryPart]:
        """The storyboard in parts: the head (title and planned lengths), then each scene as soon as its
        narration and its picture description are written (scene *i*'s pieces see scenes *0..i-1*)."""
        n = len(self.plan)
        scenes_in = (draft.scenes if draft else [])[:n]
        candidates: list[dict[str, Any] | None] = [*scenes_in, *([None] * (n - len(scenes_in)))]
        outline = [] if draft else self.outline()
        focus: list[str | None] = [None] * n
        for k, point in enumerate(outline):
            focus[1 + k] = point  # the middle scenes, after the hook
        title = self.title(draft.title if draft else None)
        yield ScriptHead(title=title, title_duration=self.title_duration,
                         durations=tuple(p.duration for p in self.plan), writer=self.writer)  # fmt: skip
        narrations: list[str] = []
        visuals: list[str] = []
        for i, p in enumerate(self.plan):
            cand = candidates[i]
            text = cand.get("narration") if cand else None
            narrations.append(
                self.narration(i, narrations, focus[i], text if isinstance(text, str) else None)
            )
            visual, keywords = self.visual(i, narrations[i], visuals, cand)
            visuals.append(visual)
            yield Scene(index=i, role=p.role, narration=narrations[i], visual=visual, keywords=keywords,
                        duration=p.duration, plan=proposed_plan(cand, narrations[i]))  # fmt: skip
        pieces = 1 + 2 * n
        log.info("%s wrote %d of %d pieces%s", self.writer, pieces - len(self.fallbacks), pieces,
                 f"; the template wrote: {', '.join(self.fallbacks)}" if self.fallbacks else "")  # fmt: skip

    def build(self, draft: Draft | None = None) -> Storyboard:
        return assemble(self.request, self.stream(draft))

    def revise(self, scene: Scene, max_words: int) -> Scene:
        """The scene's narration rewritten in at most ``max_words`` (whole sentences trimmed on failure)."""
        max_words = max(3, max_words)

        def check(reply: str) -> Verdict:
            return check_narration(reply, max_words, self.terms, [], self.names, strict=True)

        def make(attempt: int, note: str | None) -> Ask:
            return Ask("revise", revise_messages(self.request.prompt, scene.narration, max_words, note),
                       int(max_words * 1.6) + 16, self._temperature(attempt),
                       piece_seed(self.request.seed, "revise", scene.index, max_words, attempt),
                       sentences=sentence_count(max_words) + 1,
                       sentence_chars=sentence_chars(max_words))  # fmt: skip

        v = self._try(f"scene {scene.index + 1} revision", make, check)
        text = v.text if v.ok else trim_to_words(scene.narration, max_words)
        return scene.model_copy(update={"narration": text})


# ---- the backend base class ------------------------------------------------------------------


class LLMOptions(BackendOptions):
    #: the narrator's speaking rate; the pipeline measures it per voice and passes it in
    words_per_second: Annotated[float, Field(ge=1.0, le=5.0)] = DEFAULT_WPS
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.3
    #: tries per piece before the template writer writes that piece
    attempts: Annotated[int, Field(ge=1, le=8)] = 3
    #: ask for an outline of the middle scenes first (keeps the scenes apart)
    outline: bool = True


class LLMWriter(Backend):
    """A script writer backed by a chat model: subclasses implement ``complete`` and ``model_identity``."""

    name: ClassVar[str] = "llm"
    Options: ClassVar[type[BackendOptions]] = LLMOptions
    options: LLMOptions

    def complete(self, ask: Ask) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def model_identity(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["model"] = self.model_identity()
        return ident

    def builder(self, request: Request) -> StoryboardBuilder:
        o = self.options
        return StoryboardBuilder(self.complete, request, writer=self.name, words_per_second=o.words_per_second,
                                 temperature=o.temperature, attempts=o.attempts, outline=o.outline)  # fmt: skip

    def execute(self, request: Request) -> Storyboard:
        return self.builder(request).build()

    def stream(self, request: Request) -> Iterator[StoryPart]:
        """The storyboard in parts, each scene as soon as it is written (see ``StoryboardBuilder.stream``)."""
        return self.builder(request).stream()

    def revise(self, scene: Scene, max_words: int, request: Request) -> Scene:
        """The scene shortened to ``max_words``; if the model can't be reached, by dropping sentences."""
        try:
            return self.builder(request).revise(scene, max_words)
        except ScriptError as exc:
            log.warning("%s: could not rewrite scene %d shorter (%s); dropping sentences", self.name,
                        scene.index + 1, exc)  # fmt: skip
            return scene.model_copy(update={"narration": trim_to_words(scene.narration, max_words)})
