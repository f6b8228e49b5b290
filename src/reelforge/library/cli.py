"""``reelforge library ...``: add, search, similar, stats, list, remove, rebuild, fetch. Heavy imports are lazy."""

from __future__ import annotations

import json
import sys
import time
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
        help="Visual embedder: auto (the bundled EfficientNet-Lite0, or CLIP when REELFORGE_CLIP_WEIGHTS is "
        "set), efficientnet, clip, mobilenet, none (text only: names, folders, captions)."
    ),
]
VISUAL_CHOICES = ("auto", "efficientnet", "clip", "mobilenet", "none")


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open(name: str | None, config: Path | None, visual: str = "auto", *, create: bool = False) -> Library:
    from ..config import load_settings
    from .library import Library

    st = load_settings(config)
    if visual not in VISUAL_CHOICES:
        from ..errors import InputError

        raise InputError(f"unknown visual embedder '{visual}'; choose {', '.join(VISUAL_CHOICES)}")
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
    seen = f", {r.frames_embedded} looked at by the visual model" if r.frames_embedded else ""
    out.print(
        f"{len(r.added)} added, {len(r.updated)} updated, {r.unchanged} unchanged, {len(r.moved)} moved, "
        f"{len(r.duplicates)} duplicates, {len(r.rejected)} rejected; {r.segments} segments, "
        f"{r.frames_decoded} frames decoded{seen} in {r.seconds:.1f} s ({fps:.0f} frames/s)",
        highlight=False,
    )


class _Progress:
    """Progress of a long ``add``: a live bar on a terminal; elsewhere (a log, a pipe) one line on stderr
    for the first file, then at most every ``every`` seconds, and for the last file."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.bar: Any = None
        self._last = 0.0
        self._t0 = time.monotonic()

    def __enter__(self) -> _Progress:
        if err.is_terminal:
            from rich import progress as rp

            self.bar = rp.Progress(rp.TextColumn("Indexing {task.description:<30.30}"), rp.BarColumn(),
                                   rp.MofNCompleteColumn(), rp.TimeRemainingColumn(), console=err,
                                   transient=True)  # fmt: skip
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int, path: Path) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total, description=path.name)
            return
        now = time.monotonic()
        if done == 1 or done == total or now - self._last >= self.every:
            self._last = now
            rate = done / max(now - self._t0, 1e-6)
            eta = (total - done) / rate if rate > 0 else 0.0
            err.print(f"indexed {done}/{total} ({rate:.1f} files/s, about {eta:.0f} s left): {path.name}",
                      highlight=False, markup=False, soft_wrap=True)  # fmt: skip


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
    """Index new or changed clips (unchanged files are skipped; unusable ones are reported and skipped).
    Each file is committed on its own: after an interruption, running the same command again carries on."""

    def go() -> None:
        with _open(library, config, visual, create=True) as lib:
            with _Progress() as progress:
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
        _print_hits(hits, as_json, "no clips (the library is empty: reelforge library add FOLDER)")

    _run(go)


def _shows(h: Any) -> str:
    return ", ".join(f"{name.split(',')[0]} {p:.0%}" for _, name, p in h.labels[:3])


def _print_hits(hits: list[Any], as_json: bool, empty: str) -> None:
    if as_json:
        rows = [{"path": str(h.path), "start": h.start, "end": h.end, "score": round(h.score, 4), "text": h.text,
                 "shows": [{"class": n, "p": p} for _, n, p in h.labels]} for h in hits]  # fmt: skip
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    if not hits:
        out.print(empty, highlight=False)
    for i, h in enumerate(hits, 1):
        words = h.text[:60] + (f"  (shows: {_shows(h)})" if h.labels else "")
        out.print(f"{i:>2}. {h.score:.3f}  {h.path}  [{h.start:.1f}-{h.end:.1f} s]  {words}",
                  highlight=False, markup=False)  # fmt: skip


@app.command()
def similar(
    path: Annotated[Path, typer.Argument(help="A clip (in the library or not).")],
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 5,
    library: NameOpt = None,
    visual: VisualOpt = "auto",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """More like this: the clips that look most like PATH (by the visual model's vectors), one per file."""

    def go() -> None:
        with _open(library, config, visual) as lib:
            hits = lib.similar(path, max(1, min(k, 1000)))
        _print_hits(hits, as_json, "no similar clips (the library has no other clip with visual vectors)")

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
