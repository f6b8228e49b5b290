"""Settings, resolved from (lowest to highest priority): defaults, a TOML file, ``REELFORGE_*``
environment variables, then explicit overrides (CLI flags / API fields).

Nothing reads settings at import time: callers build a ``Settings`` with ``load_settings`` and pass it in.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import ConfigError
from .service.settings import ServiceSettings


def default_library_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelforge" / "libraries"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reelforge"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELFORGE_", extra="forbid", frozen=True)

    # backends, by registered name
    writer: str = "auto"  # auto: openai when an endpoint/key is configured, else local, else template
    tts: str = "piper"
    images: str = "illustrated"
    music: str = "synth"
    composer: str = "ffmpeg"
    #: per-backend options, keyed by backend name: ``[options.piper] length_scale = 1.1``
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # LLM script writers (``openai``, ``local``, ``auto``); passed to the writer as its options
    llm_base_url: str | None = None  # an OpenAI-compatible endpoint, e.g. http://localhost:11434/v1
    llm_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("llm_api_key", "reelforge_llm_api_key", "openai_api_key"),
    )
    llm_model: str | None = None  # the endpoint's model name, or a GGUF file for ``local``
    llm_timeout: Annotated[float, Field(gt=0, le=600)] = 60.0  # seconds per request

    cache_dir: Path = Field(default_factory=default_cache_dir)
    cache: bool = True
    ffmpeg: str | None = None  # path to an ffmpeg binary; default: the one imageio-ffmpeg ships, then PATH
    font_file: Path | None = None  # TTF/OTF used for titles and subtitles

    jobs: Annotated[int, Field(ge=0, le=64)] = 0  # parallel workers; 0 = number of CPU cores
    x264_preset: str = "veryfast"
    crf: Annotated[int, Field(ge=0, le=51)] = 21

    music_volume_db: Annotated[float, Field(ge=-40, le=6)] = -8.0
    duck_db: Annotated[float, Field(ge=-40, le=0)] = -16.0
    no_music: bool = False
    loudness: Annotated[float, Field(ge=-40, le=-5)] = -14.0
    true_peak: Annotated[float, Field(ge=-9, le=0)] = -1.0

    # clip libraries (``reelforge library ...``; ``make --library NAME``)
    library: str | None = None  # the library scenes take clips from; None: stills only
    library_dir: Path = Field(default_factory=default_library_dir)
    #: below this similarity (MiniLM cosine) a scene keeps its still
    library_threshold: Annotated[float, Field(ge=0, le=1)] = 0.45
    clip_layout: Literal["clip", "blend", "pip", "split"] = "clip"
    #: how scenes follow each other: ``auto`` by the style (``reelforge.compose.timeline.STYLE_TRANSITIONS``),
    #: ``fade`` through black, or an overlap: ``crossfade``, ``slide``, ``wipe``, ``zoom``
    transition: Literal["auto", "fade", "crossfade", "slide", "wipe", "zoom"] = "auto"

    #: ``reelforge serve`` / ``reelforge worker``: the ``[service]`` table (artifact dir, queue, API tokens)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    def options_for(self, backend: str) -> dict[str, Any]:
        return dict(self.options.get(backend, {}))

    @property
    def workers(self) -> int:
        return self.jobs or max(1, os.cpu_count() or 1)

    def public_dump(self) -> dict[str, Any]:
        """The resolved config as saved beside outputs (secrets redacted)."""
        data = self.model_dump(mode="json")
        if data.get("llm_api_key"):
            data["llm_api_key"] = "***"
        for name, opts in data.get("options", {}).items():
            for k in list(opts):
                if any(s in k.lower() for s in ("key", "token", "secret", "password")):
                    data["options"][name][k] = "***"
        return data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings. ``config_file`` defaults to ``$REELFORGE_CONFIG`` when set.

    The TOML file is applied *under* the environment: a value set in the environment wins over the file,
    and ``overrides`` (the CLI's flags; ``None`` values are ignored) win over both.
    """
    if config_file is None and os.environ.get("REELFORGE_CONFIG"):
        config_file = Path(os.environ["REELFORGE_CONFIG"])
    file_values = _read_toml(config_file) if config_file else {}
    env_keys = {k[len("REELFORGE_") :].lower() for k in os.environ if k.startswith("REELFORGE_")}
    merged = {k: v for k, v in file_values.items() if k not in env_keys}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
