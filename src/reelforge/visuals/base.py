from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..models import ImageRequest, SceneVisual


class ImageGenerator(Protocol):
    """Draws one still for a scene, at exactly ``request.width`` x ``request.height``, as PNG.

    It draws from the scene's ``visual``, ``keywords`` and ``role`` (plus title, style, seed); the cache
    key leaves out the duration, and the narration too unless the backend sets ``reads_narration = True``
    (then editing what is said redraws that scene's picture).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    #: optional (default False): the picture also depends on the scene's narration
    # reads_narration: ClassVar[bool]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual: ...
