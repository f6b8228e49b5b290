from __future__ import annotations

from typing import Any, ClassVar, Protocol

from ..models import Request, Storyboard


class ScriptWriter(Protocol):
    """Writes a storyboard: title + scenes (narration, visual description, keywords, planned durations)."""

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, request: Request) -> Storyboard: ...
