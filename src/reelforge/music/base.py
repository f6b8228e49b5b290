from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..models import MusicRequest, MusicTrack


class MusicGenerator(Protocol):
    """Writes a stereo 16-bit WAV of exactly ``request.duration`` seconds that ends cleanly."""

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, request: MusicRequest, out_path: Path) -> MusicTrack: ...
