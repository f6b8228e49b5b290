"""``reelforge batch FILE``: many videos from a CSV, JSON-lines or plain-text file (see ``batch.py``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .console import err, fail, out
from .errors import ReelforgeError


def register(app: typer.Typer) -> None:
    @app.command()
    def batch(
        file: Annotated[
            Path, typer.Argument(help="CSV (prompt,duration,...), JSON lines, or one prompt per line.")
        ],
        out_dir: Annotated[
            Path | None, typer.Option("--out-dir", "-o", help="Where the videos go (default: ./FILE-NAME/).")
        ] = None,
        summary: Annotated[
            Path | None,
            typer.Option(help="Summary CSV (default: OUT-DIR/summary.csv); also what resume reads."),
        ] = None,
        parallel: Annotated[
            int | None, typer.Option(help="Videos made at once (default: one per two cores, at least 2).")
        ] = None,
        fresh: Annotated[
            bool, typer.Option("--fresh", help="Make every row again, even those an earlier run finished.")
        ] = False,
        duration: Annotated[
            float | None, typer.Option("--duration", "-d", help="Length of rows that give none (default 30).")
        ] = None,
        style: Annotated[str | None, typer.Option(help="Default music mood.")] = None,
        aspect: Annotated[str | None, typer.Option(help="Default aspect: 16:9, 9:16 or 1:1.")] = None,
        resolution: Annotated[
            str | None, typer.Option(help="Default resolution: 480p, 720p or 1080p.")
        ] = None,
        fps: Annotated[int | None, typer.Option(help="Default frames per second.")] = None,
        voice: Annotated[str | None, typer.Option(help="Default voice.")] = None,
        seed: Annotated[int | None, typer.Option(help="Default seed.")] = None,
        writer: Annotated[str | None, typer.Option(help="Default script backend.")] = None,
        images: Annotated[str | None, typer.Option(help="Default visuals backend.")] = None,
        music: Annotated[str | None, typer.Option(help="Default music backend.")] = None,
        tts: Annotated[str | None, typer.Option(help="Default narration backend.")] = None,
        llm_model: Annotated[
            str | None,
            typer.Option("--llm-model", help="Default GGUF file or pulled model name (local writer)."),
        ] = None,
        image_model: Annotated[str | None, typer.Option(help="Default text-to-image model.")] = None,
        transition: Annotated[str | None, typer.Option(help="Default transition.")] = None,
        no_music: Annotated[bool, typer.Option("--no-music", help="Narration only, for every row.")] = False,
        no_subtitles: Annotated[
            bool, typer.Option("--no-subtitles", help="No subtitles, for every row.")
        ] = False,
        config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
        jobs: Annotated[
            int | None,
            typer.Option(help="ffmpeg workers per video (default: the cores shared by the videos)."),
        ] = None,
        no_cache: Annotated[
            bool, typer.Option("--no-cache", help="Ignore the cache (still writes to it).")
        ] = False,
        keep_work: Annotated[
            bool, typer.Option("--keep-work", help="Keep intermediates beside each video.")
        ] = False,
    ) -> None:
        """Make a video for every row of FILE (CSV, JSON lines, or one prompt per line); a re-run resumes.

        Rows are made in parallel with the loaded models shared; a bad row is reported and the others are made.
        Every finished row is recorded in the summary CSV, which a re-run reads to skip what is done.
        """
        from .batch import Batch, RowResult, check_rows, check_summary, default_parallel

        defaults: dict[str, Any] = {
            "duration": duration, "style": style, "aspect": aspect, "resolution": resolution, "fps": fps,
            "voice": voice, "seed": seed, "writer": writer, "images": images, "music": music, "tts": tts,
            "llm_model": llm_model, "image_model": image_model, "transition": transition,
            "no_music": no_music or None, "no_subtitles": no_subtitles or None,
        }  # fmt: skip
        t0 = time.perf_counter()
        try:
            if parallel is not None and not 1 <= parallel <= 64:
                raise ReelforgeError(f"--parallel {parallel} is out of range (1-64)")
            at_once = parallel or default_parallel()
            cores = os.cpu_count() or 1
            per_video = jobs or max(1, -(-cores // at_once))  # the cores, shared by the videos made at once
            folder = out_dir or Path(file.stem)
            rows = check_rows(file, out_dir=folder, defaults=defaults, config=config, jobs=per_video,
                              no_cache=no_cache)  # fmt: skip
            summary_path = check_summary(summary or folder / "summary.csv")
            bad = [r for r in rows if r.error is not None]
            for r in bad:
                err.print(f"[red]✗[/] row {r.number} (line {r.line}): {escape(r.error or '')}",
                          highlight=False, soft_wrap=True)  # fmt: skip
            if len(bad) == len(rows):
                raise ReelforgeError(f"none of the {len(rows)} rows of {file} can be made (see above)")
        except ReelforgeError as exc:
            fail(str(exc))
            return

        def done(res: RowResult) -> None:
            # one line per video on stdout; above the progress bar when both go to the same terminal
            shown = progress.console if out.is_terminal and err.is_terminal else out
            if res.status == "done":
                shown.print(f"[green]✓[/] {escape(str(res.row.output))}  {res.duration or 0:.1f} s  "
                          f"made in {res.seconds or 0:.1f} s", highlight=False, soft_wrap=True)  # fmt: skip
            else:
                err.print(f"[red]✗[/] row {res.row.number}: {escape(res.error or res.status)}",
                          highlight=False, soft_wrap=True)  # fmt: skip

        with Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), console=err, disable=not err.is_terminal,
        ) as progress:  # fmt: skip
            job = Batch(rows, summary_path, parallel=at_once, resume=not fresh, keep_work=keep_work,
                        on_done=done)  # fmt: skip
            skipped = [r for r in job.results.values() if r.skipped]
            if skipped:
                err.print(f"{len(skipped)} of {len(rows)} videos were made by an earlier run; "
                          f"{len(job.todo)} to make", highlight=False, soft_wrap=True)  # fmt: skip
            task = progress.add_task(f"Making {len(job.todo)} videos", total=1.0)
            job.on_progress = lambda f: progress.update(task, completed=f)
            try:
                report = job.run()
            except KeyboardInterrupt:
                fail(
                    f"interrupted; the summary is in {summary_path}: run the same command again to resume",
                    130,
                )
                return
        made = report.count("done")
        failed = report.count("failed") + report.count("invalid")
        tail = f", {failed} failed" if failed else ""
        out.print(f"{made} of {len(rows)} videos made{tail} in {time.perf_counter() - t0:.1f} s; "
                  f"summary: {escape(str(summary_path))}", highlight=False, soft_wrap=True)  # fmt: skip
        if failed:
            raise typer.Exit(1)
