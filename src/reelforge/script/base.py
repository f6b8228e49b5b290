"""What every script writer is, and the parts a storyboard is streamed in.

A writer that can stream (``stream(request)``) yields a :class:`ScriptHead` first (the title and the planned
scene lengths, which are cheap) and then each :class:`~reelforge.models.Scene` as soon as it is written, so
the pipeline can speak, draw and render scene 1 while the writer writes scene 2. ``assemble`` turns the
parts back into the storyboard that ``execute`` would have returned; ``parts_of`` streams a finished
storyboard (writers that write in one call, storyboards a user gives).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Protocol

from ..errors import ScriptError
from ..models import Frozen, Request, Scene, Storyboard


class ScriptWriter(Protocol):
    """Writes a storyboard: title + scenes (narration, visual description, keywords, planned durations)."""

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, request: Request) -> Storyboard: ...


class ScriptHead(Frozen):
    """The first part of a streamed storyboard: everything known before any scene is written."""

    title: str
    title_duration: float
    #: each scene's planned length, in order (how many scenes there will be)
    durations: tuple[float, ...]
    #: the name the storyboard records as its writer
    writer: str = "unknown"


StoryPart = ScriptHead | Scene


def parts_of(storyboard: Storyboard) -> Iterator[StoryPart]:
    """A finished storyboard as a stream: its head, then its scenes."""
    yield ScriptHead(title=storyboard.title, title_duration=storyboard.title_duration,
                     durations=tuple(s.duration for s in storyboard.scenes), writer=storyboard.writer)  # fmt: skip
    yield from storyboard.scenes


def assemble(request: Request, parts: Iterable[StoryPart]) -> Storyboard:
    """The storyboard made of a stream's parts (a head, then every scene in order)."""
    head: ScriptHead | None = None
    scenes: list[Scene] = []
    for part in parts:
        if isinstance(part, ScriptHead):
            head = part
        else:
            scenes.append(part)
    if head is None or len(scenes) != len(head.durations):
        raise ScriptError("the script writer stopped before the storyboard was complete")
    return Storyboard(title=head.title, prompt=request.prompt, duration=request.duration,
                      title_duration=head.title_duration, scenes=tuple(scenes), writer=head.writer)  # fmt: skip
