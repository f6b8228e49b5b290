"""The ``reelforge`` command line."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from . import __version__
from .audio_cli import register as _register_audio
from .config import load_settings
from .console import err, fail, out, validation_message
from .errors import ReelforgeError
from .make_options import check_choice
from .models import STYLES, ProgressEvent, Request
from .registry import default_registry
from .text import slug

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn a text prompt and a duration into a finished, narrated video. Offline by default.",
    pretty_exceptions_enable=False,
)

STAGE_LABELS = {
    "script": "Writing script",
    "narration": "Speaking narration",
    "visuals": "Drawing visuals",
    "preview": "Rendering scenes",
    "render": "Joining segments",
    "audio": "Mixing audio",
    "mux": "Finishing video",
}


#: a scene's state in the CLI's scene row: not written, written, spoken and drawn, rendered (playable)
SCENE_MARKS = ("·", "○", "◐", "●")


class RichProgress:
    """Draws pipeline progress events as Rich bars: one per stage with the current scene, and a row with one
    mark per scene (scenes stream: several are at different stages at once)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.lock = threading.Lock()
        self.scenes: list[int] = []  # per scene: an index into SCENE_MARKS
        self.parts: dict[int, set[str]] = {}

    def _scene_row(self, e: ProgressEvent) -> None:
        if e.stage in ("narration", "visuals") and e.total and len(self.scenes) != e.total:
            self.scenes = [0] * e.total
        if e.scene is None or e.scene >= len(self.scenes) or e.done == 0:
            return
        k = e.scene
        if e.stage == "script":
            state = 1
        elif e.stage in ("narration", "visuals"):
            self.parts.setdefault(k, set()).add(e.stage)
            state = 2 if len(self.parts[k]) == 2 else 1
        elif e.stage in ("preview", "render"):  # a scene left for the final render is done there
            state = 3
        else:
            return
        self.scenes[k] = max(self.scenes[k], state)
        if "scenes" not in self.tasks:
            self.tasks["scenes"] = self.progress.add_task("Scenes", total=len(self.scenes))
        ready = sum(1 for x in self.scenes if x == 3)
        marks = "".join(SCENE_MARKS[x] for x in self.scenes)
        self.progress.update(self.tasks["scenes"], completed=ready, total=len(self.scenes),
                             description=f"Scenes {marks}")  # fmt: skip

    def __call__(self, e: ProgressEvent) -> None:
        with self.lock:
            self._scene_row(e)
            if e.stage == "render" and e.total and e.done == e.total and "preview" in self.tasks:
                # scenes not previewed (rewritten shorter) were rendered by the final pass: all are done
                done = next(t for t in self.progress.tasks if t.id == self.tasks["preview"])
                self.progress.update(done.id, completed=done.total)
            label = STAGE_LABELS.get(e.stage, e.stage.title())
            if e.stage not in self.tasks:
                self.tasks[e.stage] = self.progress.add_task(label, total=max(e.total, 1))
            task = self.tasks[e.stage]
            desc = label
            if e.scene is not None:
                desc += f" · scene {e.scene + 1}"
            if e.cached and e.done == e.total:
                desc += " (cached)"
            self.progress.update(task, completed=e.done, total=max(e.total, 1), description=desc)


@app.command()
def make(
    prompt: Annotated[str | None, typer.Argument(help="What the video is about.")] = None,
    duration: Annotated[float, typer.Option("--duration", "-d", help="Length in seconds (5-1800).")] = 30.0,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output .mp4 path.")] = None,
    style: Annotated[str, typer.Option(help=f"Music mood: {', '.join(STYLES)}.")] = "calm",
    aspect: Annotated[str, typer.Option(help="16:9, 9:16 or 1:1.")] = "16:9",
    resolution: Annotated[str, typer.Option(help="480p, 720p or 1080p.")] = "720p",
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 30,
    voice: Annotated[
        str | None, typer.Option(help="Voice: a name from `reelforge voices`, or a Piper .onnx path.")
    ] = None,
    length_scale: Annotated[
        float | None, typer.Option(help="Speaking pace: > 1 slower, < 1 faster (0.5-2).")
    ] = None,
    sentence_pause: Annotated[
        float | None, typer.Option(help="Silence between sentences in seconds (0-0.6, default 0.25).")
    ] = None,
    voice_volume: Annotated[float | None, typer.Option(help="Voice gain before the mix (0.1-2).")] = None,
    karaoke: Annotated[
        bool, typer.Option("--karaoke", help="Highlight each subtitle word as it is spoken.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for visuals, music and wording.")] = 0,
    no_subtitles: Annotated[bool, typer.Option("--no-subtitles", help="Don't burn in subtitles.")] = False,
    no_music: Annotated[bool, typer.Option("--no-music", help="Narration only.")] = False,
    music_volume: Annotated[
        float | None, typer.Option(help="Music level in dB relative to the voice.")
    ] = None,
    writer: Annotated[str | None, typer.Option(help="Script backend.")] = None,
    images: Annotated[str | None, typer.Option(help="Visuals backend.")] = None,
    image_model: Annotated[
        str | None,
        typer.Option(help="Text-to-image model for --images diffusion: a local folder or a Hub id."),
    ] = None,
    music: Annotated[str | None, typer.Option(help="Music backend.")] = None,
    music_dir: Annotated[
        Path | None,
        typer.Option(help="Your music: DIR/<style>/*.mp3 or DIR/tags.json (implies --music library)."),
    ] = None,
    tts: Annotated[str | None, typer.Option(help="Narration backend.")] = None,
    llm_model: Annotated[
        str | None,
        typer.Option("--llm-model", help="GGUF file for the local writer, or the endpoint's model name."),
    ] = None,
    storyboard: Annotated[
        Path | None, typer.Option(help="Render this storyboard JSON instead of writing one.")
    ] = None,
    keep_work: Annotated[
        bool, typer.Option("--keep-work", help="Keep intermediate files beside the output.")
    ] = False,
    config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Parallel workers (default: CPU cores).")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ignore the cache (still writes to it).")
    ] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Also print per-stage times and cache hits as JSON.")
    ] = False,
    library: Annotated[
        str | None, typer.Option(help="Clip library (reelforge library add ...): scenes use matching clips.")
    ] = None,
    clip_layout: Annotated[
        str | None, typer.Option(help="How a clip meets the still: clip, blend, pip or split.")
    ] = None,
    transition: Annotated[
        str | None,
        typer.Option(
            help="How scenes follow each other: auto (by --style), fade, crossfade, slide, wipe or zoom."
        ),
    ] = None,
) -> None:
    """Make a video from PROMPT."""
    from .make_options import MakeOptions, prepare
    from .pipeline import Pipeline

    try:
        options = MakeOptions(prompt=prompt, duration=duration, output=output, style=style, aspect=aspect,
                              resolution=resolution, fps=fps, voice=voice, length_scale=length_scale,
                              sentence_pause=sentence_pause, voice_volume=voice_volume, karaoke=karaoke,
                              seed=seed, no_subtitles=no_subtitles, no_music=no_music,
                              music_volume=music_volume, writer=writer, images=images,
                              image_model=image_model, music=music, music_dir=music_dir, tts=tts,
                              llm_model=llm_model, storyboard=storyboard, library=library,
                              clip_layout=clip_layout, transition=transition)  # fmt: skip
        job = prepare(options, config=config, jobs=jobs, no_cache=no_cache)
        out_path = job.output or Path(f"{slug(job.request.prompt)}.mp4")
        with Progress(
            TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=False, disable=not err.is_terminal,
        ) as progress:  # fmt: skip
            pipe = Pipeline(job.settings, progress=RichProgress(progress))
            result = pipe.make(job.request, out_path, storyboard=job.storyboard, keep_work=keep_work,
                               release_models=True)  # fmt: skip
    except ReelforgeError as exc:
        fail(str(exc))
        return
    except KeyboardInterrupt:
        fail("interrupted; nothing was written at the output path", 130)
        return
    mb = result.size / 1e6
    out.print(
        f"[green]✓[/] {result.video}  {result.duration:.1f} s  {mb:.1f} MB  made in {result.elapsed:.1f} s",
        highlight=False,
    )
    if stats:
        report = {"elapsed": round(result.elapsed, 3), "stages": {k: round(v, 3) for k, v in result.stages.items()},
                  "cache": result.cache}  # fmt: skip
        sys.stdout.write(json.dumps(report) + "\n")


@app.command("storyboard")
def storyboard_cmd(
    prompt: Annotated[str, typer.Argument(help="What the video is about.")],
    duration: Annotated[float, typer.Option("--duration", "-d")] = 30.0,
    style: Annotated[str, typer.Option()] = "calm",
    seed: Annotated[int, typer.Option()] = 0,
    writer: Annotated[str | None, typer.Option()] = None,
    llm_model: Annotated[
        str | None,
        typer.Option("--llm-model", help="GGUF file for the local writer, or the endpoint's model name."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write JSON here instead of stdout.")
    ] = None,
    config: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Write the storyboard (title + scenes) without rendering; edit it and pass it to make --storyboard."""
    from .pipeline import Pipeline

    try:
        check_choice(style, STYLES, "style")
        try:
            request = Request.model_validate(
                {"prompt": prompt, "duration": duration, "style": style, "seed": seed}
            )
        except ValidationError as exc:
            raise ReelforgeError(validation_message(exc)) from None
        settings = load_settings(config, writer=writer, llm_model=llm_model)
        sb = Pipeline(settings).write_storyboard(request)
        text = sb.model_dump_json(indent=2)
        if output:
            output.write_text(text + "\n", encoding="utf-8")
            err.print(f"wrote {output}")
        else:
            sys.stdout.write(text + "\n")
    except ReelforgeError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")


@app.command()
def backends(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the installed backends for every stage."""
    data = default_registry().describe()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    for stage, items in data.items():
        out.print(f"[bold]{stage}[/]")
        for it in items:
            out.print(f"  {it['name']:<12} {it.get('description') or it.get('error', '')}", highlight=False)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(f"reelforge {__version__}")


from .service.cli import register as _register_service  # noqa: E402  (serve, worker: lazy imports)

_register_service(app)

from .library.cli import register as _register_library  # noqa: E402  (reelforge library ...: lazy imports)

_register_library(app)
_register_audio(app)  # voices

from .warmup import register as _register_warmup  # noqa: E402

_register_warmup(app)

from .batch_cli import register as _register_batch  # noqa: E402  (reelforge batch FILE)

_register_batch(app)

from .hub_cli import register as _register_models  # noqa: E402  (reelforge models list|pull|remove)

_register_models(app)


def main() -> None:
    try:
        app()
    except ReelforgeError as exc:  # defensive: commands handle their own errors
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
