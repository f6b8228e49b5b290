"""``reelforge models list|pull|remove``: the models reelforge can use from the Hugging Face Hub."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from .console import err, fail, out
from .errors import ReelforgeError

app = typer.Typer(
    no_args_is_help=True,
    help="Models from the Hugging Face Hub: list what is installed and recommended, pull, remove.",
    pretty_exceptions_enable=False,
)


class PullProgress:
    """Download progress: a bar per file on a terminal, else a line at every quarter (logs stay short)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.quarters: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, filename: str, done: int, total: int | None) -> None:
        with self.lock:
            if self.progress is not None:
                if filename not in self.tasks:
                    self.tasks[filename] = self.progress.add_task(filename, total=total)
                self.progress.update(self.tasks[filename], completed=done, total=total)
                return
            quarter = 4 * done // total if total else 0
            if quarter > self.quarters.get(filename, -1):
                self.quarters[filename] = quarter
                size = f" of {total / 1e6:.1f} MB" if total else ""
                err.print(f"  {escape(filename)}: {25 * quarter}%{size}", highlight=False)


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """What is installed (bundled or pulled) and what is recommended."""
    from .hub import hub_cache_dir, listing

    try:
        rows = listing()
    except ReelforgeError as exc:
        fail(str(exc))
        return
    if as_json:
        sys.stdout.write(json.dumps({"cache": str(hub_cache_dir()), "models": rows}, indent=2) + "\n")
        return
    for r in rows:
        status = r["status"] + (f" ({r['variant']})" if r.get("variant") else "")
        colour = "green" if status.startswith(("installed", "bundled")) else "dim"
        line = (
            f"{r['name']:<16} {r['kind']:<7} [{colour}]{status:<18}[/] {r['size']:<14} {escape(r['about'])}"
        )
        out.print(line, highlight=False, soft_wrap=True)
    out.print(
        f"\npull one: reelforge models pull NAME   (into {hub_cache_dir()})\n"
        "use it:   reelforge make ... --writer local --llm-model NAME   or   --image-model NAME",
        highlight=False,
        style="dim",
        soft_wrap=True,
    )


@app.command()
def pull(
    name: Annotated[
        str, typer.Argument(help="A name from `reelforge models list`, OWNER/REPO/FILE.gguf, or OWNER/REPO.")
    ],
    variant: Annotated[
        str, typer.Option(help="Diffusion weights: fp16, fp32, or auto (fp16 on a GPU, fp32 on a CPU).")
    ] = "auto",
) -> None:
    """Download a model into the Hugging Face cache; an interrupted pull continues where it stopped."""
    from .hub import pull as do_pull

    with contextlib.suppress(ImportError):  # its own retry warnings: the progress and errors here say it
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    t0 = time.perf_counter()
    columns: list[Any] = [TextColumn("{task.description:<36}"), BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), TimeRemainingColumn()]  # fmt: skip
    try:
        with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
            report = PullProgress(progress if err.is_terminal else None)
            if not err.is_terminal:
                err.print(f"pulling {escape(name)}", highlight=False)
            result = do_pull(name, variant=variant, progress=report)
    except ReelforgeError as exc:
        fail(str(exc))
        return
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to continue where it stopped", 130)
        return
    got = f"{result.downloaded / 1e6:.1f} MB downloaded" if result.downloaded else "already there"
    if result.resumed:
        got += f", {result.resumed / 1e6:.1f} MB kept from before"
    flag = "--llm-model" if result.kind == "writer" else "--image-model"
    out.print(
        f"[green]✓[/] {escape(result.name)}  {got} in {time.perf_counter() - t0:.1f} s  ({escape(str(result.path))})",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"  use it with {flag} {escape(result.name)}", highlight=False, style="dim")


@app.command()
def remove(name: Annotated[str, typer.Argument(help="A name from `reelforge models list`.")]) -> None:
    """Delete a pulled model from the Hugging Face cache."""
    from .hub import remove as do_remove

    try:
        freed = do_remove(name)
    except ReelforgeError as exc:
        fail(str(exc))
        return
    out.print(
        f"[green]✓[/] removed {escape(name)}  ({freed / 1e6:.1f} MB freed)", highlight=False, soft_wrap=True
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")
