"""``reelforge warmup``: do at install time what a first video would otherwise pay for.

The icon vocabulary's MiniLM embeddings (about 4 s on two cores) and the default voice's speaking-rate
calibration (a fixed paragraph spoken once) are computed into the cache, so a fresh install's first video
costs what its second costs. ``make install`` runs it; it is idempotent (a second run finds both cached)
and harmless offline (it reads only what the installed packages ship).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .config import Settings, load_settings
from .errors import ReelforgeError

err = Console(stderr=True)


def warmup(settings: Settings, voice: str | None = None) -> dict[str, float]:
    """Compute the one-time caches; returns the seconds each step took (0 when it was cached already)."""
    from .pipeline import Pipeline

    took: dict[str, float] = {}
    pipe = Pipeline(settings)
    images: Any = pipe.images()
    t0 = time.perf_counter()
    index = getattr(images, "_index", None)
    if index is not None:  # the illustrated backend's icon embeddings
        index()
        took["icon embeddings"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipe.voice_rate(voice)
    took["voice rate"] = time.perf_counter() - t0
    return took


def register(app: typer.Typer) -> None:
    @app.command("warmup")
    def warmup_cmd(
        config: Annotated[Path | None, typer.Option("--config", help="Settings file (TOML).")] = None,
        voice: Annotated[
            str | None, typer.Option(help="Also calibrate this voice (default: the default).")
        ] = None,
    ) -> None:
        """Compute the icon embeddings and the voice calibration now, so the first video is not slower."""
        try:
            took = warmup(load_settings(config), voice)
        except ReelforgeError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
        for what, seconds in took.items():
            err.print(f"warmed up {what} in {seconds:.1f} s", highlight=False)
