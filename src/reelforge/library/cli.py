"""``reelforge library ...``: add, search, stats, list, remove, rebuild, fetch. Heavy imports are lazy."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from .library import AddReport, Library

app = typer.Typer(
    no_args_is_help=True,
    help="Clip libraries: index your footage, search it, and let `make --library NAME` use it.",
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

NameOpt = Annotated[str | None, typer.Option("--library", "-l", help="Library name (default: 'default').")]
ConfigOpt = Annotated[Path | None, typer.Option(help="TOML config file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
VisualOpt = Annotated[
    str,
    typer.Option(
        help="Visual embedder: auto (use local CLIP/MobileNetV3 weights if any), clip, mobilenet, none."
    ),
]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open(name: str | None, config: Path | None, visual: str = "auto", *, create: bool = False) -> Library:
    from ..config import load_settings
    from .library import Library

    st = load_settings(config)
    if visual not in ("auto", "clip", "mobilenet", "none"):
        from ..errors import InputError

        raise InputError(f"unknown visual embedder '{visual}'; choose auto, clip, mobilenet or none")
    return Library(name or st.library or "default", st.library_dir, visual=visual, create=create)


def _run(fn: Any) -> None:
    from ..errors import ReelforgeError

    try:
        fn()
    except ReelforgeError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted; what was indexed so far is kept", 130)


def _print_report(r: AddReport, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(r.as_dict()) + "\n")
        return
    for p in r.added:
        out.print(f"[green]+[/] {p}", highlight=False)
    for p in r.updated:
        out.print(f"[yellow]~[/] {p} (changed: indexed again)", highlight=False)
    for a, b in r.moved:
        out.print(f"[cyan]→[/] {b} (moved from {a})", highlight=False)
    for p, of in r.duplicates:
        out.print(f"[dim]=[/] {p} (duplicate of {of})", highlight=False)
    for p in r.removed:
        out.print(f"[red]-[/] {p} (gone from disk)", highlight=False)
    for p, why in r.rejected:
        out.print(f"[red]✗[/] {p}: {why}", highlight=False)
    fps = r.frames_decoded / r.seconds if r.seconds > 0 else 0.0
    out.print(
        f"{len(r.added)} added, {len(r.updated)} updated, {r.unchanged} unchanged, {len(r.moved)} moved, "
        f"{len(r.duplicates)} duplicates, {len(r.rejected)} rejected; {r.segments} segments, "
        f"{r.frames_decoded} frames decoded in {r.seconds:.1f} s ({fps:.0f} frames/s)",
        highlight=False,
    )


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="Video files or folders.")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Index again even if unchanged.")] = False,
    library: NameOpt = None,
    visual: VisualOpt = "auto",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Index new or changed clips (unchanged files are skipped; unusable ones are reported and skipped)."""

    def go() -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with _open(library, config, visual, create=True) as lib:
            with Progress(TextColumn("Indexing {task.description:<30.30}"), BarColumn(), MofNCompleteColumn(),
                          console=err, transient=True, disable=not err.is_terminal) as bar:  # fmt: skip
                task = bar.add_task("", total=None)

                def progress(done: int, total: int, path: Path) -> None:
                    bar.update(task, completed=done, total=total, description=path.name)

                report = lib.add(paths, recursive=recursive, force=force, progress=progress)
            _print_report(report, as_json)

    _run(go)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What the clip should show.")],
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 5,
    library: NameOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the clips (shots) that best match QUERY."""

    def go() -> None:
        with _open(library, config) as lib:
            hits = lib.search(query, max(1, min(k, 1000)))
        if as_json:
            rows = [{"path": str(h.path), "start": h.start, "end": h.end, "score": round(h.score, 4),
                     "text": h.text} for h in hits]  # fmt: skip
            sys.stdout.write(json.dumps(rows) + "\n")
            return
        if not hits:
            out.print("no clips (the library is empty: reelforge library add FOLDER)")
        for i, h in enumerate(hits, 1):
            out.print(f"{i:>2}. {h.score:.3f}  {h.path}  [{h.start:.1f}-{h.end:.1f} s]  {h.text[:70]}",
                      highlight=False, markup=False)  # fmt: skip

    _run(go)


@app.command()
def stats(library: NameOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Files, segments, index kind, embedders, and the files that were rejected (with reasons)."""

    def go() -> None:
        with _open(library, config) as lib:
            s = lib.stats()
        if as_json:
            sys.stdout.write(json.dumps(s) + "\n")
            return
        files = s["files"]
        out.print(f"library {s['name']} ({s['path']}), version {s['version']}", highlight=False)
        out.print(f"  files: {files.get('ok', 0)} indexed, {files.get('rejected', 0)} rejected, "
                  f"{files.get('duplicate', 0)} duplicates; {s['segments']} segments, "
                  f"{s['seconds'] / 60:.1f} min, {s['bytes'] / 1e6:.1f} MB", highlight=False)  # fmt: skip
        out.print(f"  index: {s['index']['kind']} ({s['index']['vectors']} vectors); text: {s['text_embedder']}; "
                  f"visual: {s['visual_embedder'] or 'none (no local weights)'}", highlight=False)  # fmt: skip
        for r in s["rejected"]:
            out.print(f"  [red]✗[/] {r['path']}: {r['reason']}", highlight=False)
        for r in s["duplicates"]:
            out.print(f"  [dim]=[/] {r['path']}: {r['reason']}", highlight=False)

    _run(go)


@app.command("list")
def list_cmd(
    library: NameOpt = None,
    status: Annotated[
        str | None, typer.Option(help="Only files with this status: ok, rejected, duplicate.")
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the files in the library."""

    def go() -> None:
        with _open(library, config) as lib:
            rows = lib.files(status)
        if as_json:
            sys.stdout.write(json.dumps([{"path": str(f.path), "status": f.status, "reason": f.reason,
                                          "duration": f.duration, "width": f.width, "height": f.height,
                                          "segments": f.segments} for f in rows]) + "\n")  # fmt: skip
            return
        for f in rows:
            facts = (
                f"{f.duration:.1f} s {f.width}x{f.height}, {f.segments} seg" if f.status == "ok" else f.reason
            )
            out.print(f"{f.status:<9} {f.path}  ({facts})", highlight=False, markup=False)

    _run(go)


@app.command()
def remove(
    path: Annotated[Path, typer.Argument(help="A file or folder to forget (nothing is deleted from disk).")],
    library: NameOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Forget a file, or every file under a folder."""

    def go() -> None:
        with _open(library, config) as lib:
            gone = lib.remove(path)
        if not gone:
            _fail(f"{path} is not in the library")
        out.print(f"removed {len(gone)} file(s)", highlight=False)

    _run(go)


@app.command()
def rebuild(
    full: Annotated[bool, typer.Option("--full", help="Sample and embed every file again.")] = False,
    library: NameOpt = None,
    visual: VisualOpt = "auto",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-check every file (forget missing ones, index changed ones) and rebuild the index from SQLite."""

    def go() -> None:
        with _open(library, config, visual) as lib:
            report = lib.rebuild(full=full)
        _print_report(report, as_json)

    _run(go)


@app.command()
def fetch(
    query: Annotated[str, typer.Argument(help="What to search for, e.g. 'ocean waves'.")],
    source: Annotated[str, typer.Option(help="Online source: pexels or pixabay.")] = "pexels",
    n: Annotated[int, typer.Option("-n", help="How many videos.")] = 10,
    base_url: Annotated[
        str | None,
        typer.Option(help="API base URL (default: the source's own; $PEXELS_BASE_URL, $PIXABAY_BASE_URL)."),
    ] = None,
    library: NameOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download matching videos (up to 1080p) from an online source into the library and index them.
    Needs PEXELS_API_KEY (or PIXABAY_API_KEY for --source pixabay)."""

    def go() -> None:
        from ..config import load_settings
        from .sources import SOURCES, make_source
        from .sources import fetch as fetch_from

        if source not in SOURCES:
            _fail(f"unknown source '{source}'; available: {', '.join(SOURCES)}")
        opts = {**load_settings(config).options_for(source), **({"base_url": base_url} if base_url else {})}
        opts.setdefault("timeout", 60.0)
        src = make_source(source, opts)
        with _open(library, config, create=True) as lib:

            def progress(done: int, total: int, name: str) -> None:
                err.print(f"[{done}/{total}] {name}", highlight=False, markup=False)

            r = fetch_from(lib, src, query, n, progress=progress if not as_json else None)
        if as_json:
            sys.stdout.write(json.dumps({"downloaded": [str(p) for p in r.downloaded],
                                         "present": [str(p) for p in r.present],
                                         "failed": [{"what": a, "reason": b} for a, b in r.failed],
                                         "added": r.added.as_dict()}) + "\n")  # fmt: skip
            return
        for what, why in r.failed:
            out.print(f"[red]✗[/] {what}: {why}", highlight=False)
        out.print(f"{len(r.downloaded)} downloaded, {len(r.present)} already here, {len(r.failed)} failed",
                  highlight=False)  # fmt: skip
        _print_report(r.added, False)

    _run(go)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="library")
