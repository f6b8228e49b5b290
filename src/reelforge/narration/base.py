from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import Field

from ..backend import Backend, BackendOptions
from ..models import SpokenSentence

#: the longest silence reelforge leaves between two sentences of a scene (seconds)
MAX_SENTENCE_PAUSE = 0.6
DEFAULT_SENTENCE_PAUSE = 0.25


class Narrator(Protocol):
    """Speaks one sentence into a mono 16-bit WAV file and reports its measured length."""

    name: ClassVar[str]
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]: ...

    def execute(self, text: str, out_path: Path) -> SpokenSentence: ...


class NarratorOptions(BackendOptions):
    """Options every built-in narrator understands (``[options.<backend>]`` or the CLI's voice flags)."""

    #: > 1 speaks slower, < 1 faster
    length_scale: Annotated[float, Field(ge=0.5, le=2.0)] = 1.0
    #: loudness of the synthesized voice before the mix (the mix normalises the total anyway)
    volume: Annotated[float, Field(ge=0.1, le=2.0)] = 1.0
    #: silence between the sentences of a scene, seconds (the timeline never leaves more than 0.6 s)
    sentence_pause: Annotated[float, Field(ge=0.0, le=MAX_SENTENCE_PAUSE)] = DEFAULT_SENTENCE_PAUSE


#: options that do not change the synthesized audio, so they stay out of the cache key
PLACEMENT_OPTIONS = frozenset({"sentence_pause", "voices_dir"})


class NarratorBackend(Backend):
    """A backend whose identity leaves out options that only place the audio (the sentence pause)."""

    Options: ClassVar[type[BackendOptions]] = NarratorOptions

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["options"] = {k: v for k, v in ident["options"].items() if k not in PLACEMENT_OPTIONS}
        return ident


def sentence_pause(narrator: Any) -> float:
    """The pause a narrator asks for between sentences (the default for narrators without the option)."""
    pause = getattr(getattr(narrator, "options", None), "sentence_pause", DEFAULT_SENTENCE_PAUSE)
    return min(max(float(pause), 0.0), MAX_SENTENCE_PAUSE)
