from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..models import ProgressEvent, Timeline


class Composer(Protocol):
    """Renders a timeline to an MP4 at ``out_path`` (atomically)."""

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(
        self,
        timeline: Timeline,
        out_path: Path,
        work_dir: Path,
        progress: Callable[[ProgressEvent], None] | None = None,
    ) -> None: ...
