"""The audio side of the command line: ``reelforge voices`` and the voice/music flags of ``make``.

``register(app)`` adds the ``voices`` command; ``apply_audio_flags`` folds ``--length-scale``,
``--sentence-pause``, ``--voice-volume`` and ``--music-dir`` into the settings as backend options.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from .config import Settings, load_settings
from .errors import ReelforgeError


def _piper_language(config: Path) -> str:
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        lang = data.get("language", {})
        return str(lang.get("code") or data.get("espeak", {}).get("voice", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def list_voices(voices_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every voice reelforge can speak with here: bundled Piper voices, Piper voices in the voices folder,
    and eSpeak NG's languages when ``espeak-ng`` is installed."""
    from .narration.espeak import espeak_voices
    from .narration.piper import BUNDLED_VOICE, bundled_voices, default_voices_dir, dir_voices

    found: list[dict[str, Any]] = []
    for name, (model, cfg) in sorted(bundled_voices().items()):
        found.append({"engine": "piper", "voice": name, "language": _piper_language(cfg), "source": "bundled",
                      "path": str(model), "default": name == BUNDLED_VOICE})  # fmt: skip
    folder = voices_dir if voices_dir is not None else default_voices_dir()
    for name, (model, cfg) in sorted(dir_voices(folder).items()):
        found.append({"engine": "piper", "voice": name, "language": _piper_language(cfg),
                      "source": str(folder), "path": str(model), "default": False})  # fmt: skip
    for v in espeak_voices():
        found.append({"engine": "espeak", "voice": v["language"], "language": v["language"],
                      "source": "espeak-ng", "path": "", "name": v["name"], "default": False})  # fmt: skip
    return found


def apply_audio_flags(
    settings: Settings,
    *,
    length_scale: float | None = None,
    sentence_pause: float | None = None,
    voice_volume: float | None = None,
    music_dir: Path | None = None,
    music_chosen: bool = False,
) -> Settings:
    """The voice flags become options of the narration backend, ``--music-dir`` an option of the
    ``library`` music backend (and picks that backend unless ``--music`` named another)."""
    options = {k: dict(v) for k, v in settings.options.items()}
    voice = {k: v for k, v in (("length_scale", length_scale), ("sentence_pause", sentence_pause),
                               ("volume", voice_volume)) if v is not None}  # fmt: skip
    if voice:
        options[settings.tts] = {**options.get(settings.tts, {}), **voice}
    update: dict[str, Any] = {}
    if music_dir is not None:
        if not music_dir.expanduser().is_dir():
            raise ReelforgeError(f"--music-dir {music_dir} is not a folder",
                                 hint="give a folder with subfolders per style, e.g. DIR/calm/*.mp3")  # fmt: skip
        options["library"] = {**options.get("library", {}), "dir": str(music_dir.expanduser().resolve())}
        if not music_chosen:
            update["music"] = "library"
    if voice or music_dir is not None:
        update["options"] = options  # checked by the backend's Options model when it is created
        return settings.model_copy(update=update)
    return settings


def register(app: typer.Typer) -> None:
    @app.command()
    def voices(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        voices_dir: Annotated[
            Path | None, typer.Option(help="Folder of extra Piper voices (NAME.onnx + NAME.onnx.json).")
        ] = None,
        config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
    ) -> None:
        """List the installed voices: bundled Piper voices, your Piper voices folder, eSpeak NG languages."""
        err = Console(stderr=True)
        try:
            settings = load_settings(config)
        except ReelforgeError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
        folder = voices_dir or settings.options_for("piper").get("voices_dir")
        found = list_voices(Path(folder).expanduser() if folder else None)
        if as_json:
            sys.stdout.write(json.dumps({"voices": found}, indent=2) + "\n")
            return
        out = Console()
        for engine, hint in (("piper", "--voice NAME"), ("espeak", "--tts espeak --voice LANG")):
            rows = [v for v in found if v["engine"] == engine]
            out.print(f"[bold]{engine}[/] ({escape(hint)})")
            if not rows:
                out.print("  (none installed)" if engine == "piper" else "  (espeak-ng is not installed)")
            for v in rows:
                extra = v.get("name") or v["source"]
                mark = " (default)" if v["default"] else ""
                out.print(f"  {v['voice']:<24} {v['language']:<8} {extra}{mark}", highlight=False)
