from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..models import ImageRequest, SceneVisual


class ImageGenerator(Protocol):
    """Draws one still for a scene, at exactly ``request.width`` x ``request.height``, as PNG."""

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual: ...
