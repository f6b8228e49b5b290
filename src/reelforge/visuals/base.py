from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..models import ImageRequest, SceneVisual


class ImageGenerator(Protocol):
    """Draws one still for a scene, at exactly ``request.width`` x ``request.height``, as PNG.

    It draws from the scene's ``visual``, ``keywords`` and ``role`` (plus title, style, seed); the cache
    key leaves out the duration, and the narration too unless the backend has ``narration_key(text)``: the
    part of the narration its picture depends on (then editing that part redraws the scene's picture).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    #: optional: ``narration_key(narration: str) -> str``, what of the narration the picture depends on

    def identity(self) -> dict[str, Any]: ...

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual: ...
