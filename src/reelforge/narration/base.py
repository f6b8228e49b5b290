from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..models import SpokenSentence


class Narrator(Protocol):
    """Speaks one sentence into a mono 16-bit WAV file and reports its measured length."""

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, text: str, out_path: Path) -> SpokenSentence: ...
