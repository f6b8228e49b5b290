from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..models import ImageRequest, SceneVisual


class ImageGenerator(Protocol):
    """Draws one still for a scene, at exactly ``request.width`` x ``request.height``, as PNG.

    It draws from the scene's ``visual``, ``keywords`` and ``role`` (plus title, style, seed); the cache
    key leaves out the narration and duration, so editing what is said keeps the picture.
    """

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual: ...
