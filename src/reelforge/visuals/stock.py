"""The ``stock`` and ``auto`` visuals: real footage per scene from Pexels and Pixabay, stills where none fits.

``--images stock`` finds a clip for every scene online (``reelforge.library.stock``) and shows it full frame;
the stills under the clips, the title card and the scenes no clip fits are drawn by the ``stills`` backend
(``illustrated`` by default). It needs ``PEXELS_API_KEY`` and/or ``PIXABAY_API_KEY`` (free; sources without
a key are skipped); with neither it stops before any work with a clear error, and a refused key is an error
too. ``--images auto`` is ``stock`` when a key is set and ``illustrated`` otherwise (logged), and a refused
key or an outage only costs a warning.

Options (``[options.stock]``; ``auto`` reads them too, and its own ``[options.auto]`` on top):
``stills``, ``providers``, ``library`` (the library downloads go to, default ``stock``), ``min_score``,
``queries`` (per scene), ``concurrency``. Each source's own options go in ``[options.pexels]`` and
``[options.pixabay]``: ``api_key``, ``base_url``, ``timeout``, ``attempts``, ``backoff``, ``max_wait``,
``per_page`` (see ``reelforge.library.sources.SourceOptions``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from ..backend import Backend, BackendOptions
from ..errors import ConfigError
from ..models import ImageRequest, ProgressEvent, Request, SceneClip, SceneVisual, Storyboard

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..cache import Cache
    from ..config import Settings
    from ..library.sources import HttpSource

log = logging.getLogger("reelforge.visuals")

SIGNUP = "free at https://www.pexels.com/api/ and https://pixabay.com/api/docs/"


class StockOptions(BackendOptions):
    #: the backend that draws the stills (title card, scenes without a clip, the picture under a clip)
    stills: str = "illustrated"
    providers: tuple[Literal["pexels", "pixabay"], ...] = ("pexels", "pixabay")
    #: the clip library downloads are indexed in (under ``library_dir``), reused by later videos
    library: str = "stock"
    #: text similarity (MiniLM cosine) below which a candidate is not used: the scene keeps its still
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.3
    queries: Annotated[int, Field(ge=1, le=4)] = 2  # search queries per scene
    concurrency: Annotated[int, Field(ge=1, le=16)] = 4  # requests at a time

    @field_validator("stills")
    @classmethod
    def _stills(cls, v: str) -> str:
        if v in ("stock", "auto"):
            raise ValueError("the stills backend must draw pictures itself (e.g. illustrated, procedural)")
        return v


class StockImages(Backend):
    """Stock footage per scene (Pexels, Pixabay), stills by another backend where none fits."""

    name: ClassVar[str] = "stock"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "real footage per scene from Pexels and Pixabay (PEXELS_API_KEY / PIXABAY_API_KEY), stills elsewhere"
    )
    Options: ClassVar[type[BackendOptions]] = StockOptions
    options: StockOptions
    #: a refused key stops the run (``auto``: a warning and the fallback)
    strict: ClassVar[bool] = True

    def __init__(
        self,
        options: BackendOptions | dict[str, Any] | None = None,
        *,
        sources: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(options)
        from ..library.sources import make_source, offline

        given = sources or {}
        self.sources: list[HttpSource] = [make_source(n, given.get(n)) for n in self.options.providers]
        self._stills_backend: Any = None
        keyed = [s for s in self.sources if s.available]
        self.active = bool(keyed) or self.strict
        if self.strict and not keyed and not offline():
            names = " or ".join(s.key_env for s in self.sources) or "a source in providers"
            raise ConfigError(f"--images {self.name} needs an API key: set {names}",
                              hint=f"{SIGNUP}; or use --images auto")  # fmt: skip

    @classmethod
    def from_settings(cls, settings: Settings) -> StockImages:
        """The backend with ``[options.stock]`` (and ``[options.<name>]`` on top) and each source's own
        ``[options.pexels]`` / ``[options.pixabay]``."""
        opts = {**settings.options_for("stock"), **settings.options_for(cls.name)}
        return cls(opts, sources={n: settings.options_for(n) for n in ("pexels", "pixabay")})

    @property
    def stills(self) -> str:
        return self.options.stills

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "options": self.options.model_dump(mode="json"),
                "sources": [s.identity() for s in self.sources if s.available]}  # fmt: skip

    def finder(self) -> Any:
        from ..library.stock import StockFinder

        o = self.options
        return StockFinder(sources=self.sources, library=o.library, min_score=o.min_score, queries=o.queries,
                           concurrency=o.concurrency, strict=self.strict)  # fmt: skip

    def find_clips(
        self,
        request: Request,
        storyboard: Storyboard,
        *,
        cache: Cache,
        library_dir: Path,
        progress: Callable[[ProgressEvent], None] | None = None,
    ) -> list[SceneClip | None]:
        """A stock clip (or None: the still) for each scene."""
        if not self.active:
            return [None] * len(storyboard.scenes)
        found: list[SceneClip | None] = self.finder().find(
            request, storyboard, cache=cache, library_dir=library_dir, progress=progress
        )
        return found

    # -- the stills (the pipeline draws them with the ``stills`` backend itself) ------------------------

    def _stills(self) -> Any:
        if self._stills_backend is None:
            from ..registry import default_registry

            self._stills_backend = default_registry().create("visuals", self.options.stills)
        return self._stills_backend

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual:
        """A still for the scene, by the ``stills`` backend (the pipeline calls that backend directly)."""
        visual: SceneVisual = self._stills().execute(request, out_path)
        return visual


class AutoImages(StockImages):
    """``stock`` when a Pexels or Pixabay key is set, else the stills backend (``illustrated``) alone."""

    name: ClassVar[str] = "auto"
    description: ClassVar[str] = "stock when PEXELS_API_KEY or PIXABAY_API_KEY is set, else illustrated"
    strict: ClassVar[bool] = False

    def __init__(
        self,
        options: BackendOptions | dict[str, Any] | None = None,
        *,
        sources: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(options, sources=sources)
        keyed = [s.key_env for s in self.sources if s.available]
        if keyed:
            log.info("visuals: auto chose stock footage (%s set); %s draws the stills", " and ".join(keyed),
                     self.stills)  # fmt: skip
        else:
            names = " or ".join(s.key_env for s in self.sources) or "no source"
            log.info("visuals: auto chose %s (no %s set)", self.stills, names)
