"""Many videos from one file (``reelforge batch FILE``).

The file is a CSV with a header (``prompt``, ``duration`` and any ``make`` option as a column), JSON lines
(one object per line, the same names), or plain text with one prompt per line. Every row is checked before
any video is made (``make_options.prepare``, as ``make`` checks its flags); a bad row is reported with its
number and skipped, and the others are made.

Rows are made in one process, a few at a time (threads; each row's ffmpeg work is already parallel), so
the loaded models (voice, embedder, a local LLM) are shared. After every finished row the summary CSV is
rewritten (``row, prompt, path, duration, time, status, error, key``); running the same command again skips
every row whose video exists and whose summary line says ``done`` with the same ``key`` (a hash of the
row's options), so a batch resumes where it stopped and nothing is made twice.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .cache import Cache
from .config import Settings
from .console import validation_message
from .errors import InputError, ReelforgeError
from .make_options import OPTION_NAMES, MakeOptions, Prepared, prepare
from .models import ProgressEvent
from .progress import overall_fraction
from .registry import Registry, default_registry
from .text import slug

log = logging.getLogger("reelforge.batch")

MAX_ROWS = 10_000
MAX_FILE_BYTES = 16 * 2**20
SUMMARY_FIELDS = ("row", "prompt", "path", "duration", "time", "status", "error", "key")
#: options that name input files: relative paths in a row are relative to the batch file's folder
INPUT_PATHS = ("storyboard", "music_dir")


@dataclass
class BatchRow:
    """One row of the batch file, checked."""

    number: int  # 1-based, counting rows (not blank lines, comments or the CSV header)
    line: int  # where it is in the file
    values: dict[str, Any]
    prompt: str = ""
    job: Prepared | None = None
    output: Path | None = None
    key: str = ""
    error: str | None = None  # why the row cannot be made (checked before any work)


@dataclass
class RowResult:
    row: BatchRow
    status: str  # done | failed | invalid | cancelled | pending | running
    duration: float | None = None
    seconds: float | None = None
    error: str | None = None
    skipped: bool = False  # done by an earlier run (resume)


@dataclass
class BatchReport:
    results: list[RowResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


# ---- reading the file ---------------------------------------------------------------------------


def _column(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Column names normalised; empty cells dropped (the default applies)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        out[_column(str(k))] = v.strip() if isinstance(v, str) else v
    return out


def read_rows(path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    """``(line, values)`` per row; ``values`` is a string when the row itself is unreadable (bad JSON)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"batch file {path} is larger than {MAX_FILE_BYTES >> 20} MB")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"batch file {path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"batch file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read batch file {path}: {exc.strerror}") from None
    suffix = path.suffix.lower()
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if suffix in (".jsonl", ".ndjson") or (suffix not in (".csv", ".tsv", ".txt") and first.startswith("{")):
        rows = list(_jsonl(text))
    elif suffix in (".csv", ".tsv"):
        rows = list(_csv(text, path, "\t" if suffix == ".tsv" else ","))
    else:
        rows = [(n, {"prompt": ln.strip()}) for n, ln in enumerate(text.splitlines(), 1)
                if ln.strip() and not ln.lstrip().startswith("#")]  # fmt: skip
    if not rows:
        raise InputError(
            f"batch file {path} has no rows", hint="one prompt per line, or a CSV with a prompt column"
        )
    if len(rows) > MAX_ROWS:
        raise InputError(f"batch file {path} has {len(rows)} rows; the limit is {MAX_ROWS}")
    return rows


def _jsonl(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for n, ln in enumerate(text.splitlines(), 1):
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError as exc:
            yield n, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        yield (n, _clean(obj)) if isinstance(obj, dict) else (n, "a JSON line must be an object {...}")


def _csv(text: str, path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [_column(c) for c in reader.fieldnames or []]
    unknown = [c for c in header if c and c not in OPTION_NAMES]
    if unknown:
        raise InputError(f"{path}: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                         f"columns are make's options: {', '.join(OPTION_NAMES)}")  # fmt: skip
    if "prompt" not in header and "storyboard" not in header:
        raise InputError(
            f"{path}: no 'prompt' column", hint="the first line names the columns: prompt,duration,..."
        )
    for rec in reader:
        extra = rec.pop(None, None)
        if all(not (v or "").strip() for v in rec.values()) and not extra:
            continue
        if extra:
            yield reader.line_num, f"{len(extra)} more value(s) than the header has columns"
            continue
        yield reader.line_num, _clean(rec)


# ---- checking the rows ---------------------------------------------------------------------------


def _key(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]


def check_rows(
    path: Path,
    *,
    out_dir: Path,
    defaults: dict[str, Any],
    config: Path | None = None,
    jobs: int | None = None,
    no_cache: bool = False,
    registry: Registry | None = None,
) -> list[BatchRow]:
    """Read and check every row (``defaults``: the command's flags, under each row's own values); rows
    that cannot be made carry their ``error``. Output names are unique: the prompt's slug, ``-2`` on."""
    from .pipeline import check_output

    base = path.resolve().parent
    rows: list[BatchRow] = []
    taken: dict[Path, int] = {}
    for number, (line, raw) in enumerate(read_rows(path), 1):
        row = BatchRow(number, line, raw if isinstance(raw, dict) else {})
        rows.append(row)
        if isinstance(raw, str):
            row.error = raw
            continue
        values = {**{k: v for k, v in defaults.items() if v is not None}, **raw}
        row.prompt = str(values.get("prompt") or "")
        row.key = _key(values)
        unknown = [k for k in raw if k not in OPTION_NAMES]
        if unknown:
            row.error = f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            continue
        for name in INPUT_PATHS:
            if name in values and not Path(str(values[name])).expanduser().is_absolute():
                values[name] = base / str(values[name])
        try:
            options = MakeOptions(**values)
            job = prepare(options, config=config, jobs=jobs, no_cache=no_cache, registry=registry)
            row.prompt = job.request.prompt
            if job.output is not None:
                output = job.output.expanduser()
                output = output if output.is_absolute() else out_dir / output
            else:
                stem = slug(job.request.prompt)
                output, k = out_dir / f"{stem}.mp4", 2
                while output.resolve() in taken:
                    output, k = out_dir / f"{stem}-{k}.mp4", k + 1
            output = check_output(output)
            if output in taken:
                raise InputError(f"output {output.name} is also row {taken[output]}'s output")
            taken[output] = number
            row.job, row.output = job, output
        except ValidationError as exc:
            row.error = validation_message(exc)
        except ReelforgeError as exc:
            row.error = str(exc)
    return rows


# ---- the summary (and resume) --------------------------------------------------------------------


def read_summary(path: Path) -> dict[str, dict[str, str]]:
    """An earlier run's summary lines by output path (empty when there is none or it is unreadable)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return {r["path"]: r for r in csv.DictReader(fh) if r.get("path")}
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}


def check_summary(path: Path) -> Path:
    """Fail before any work when the summary cannot be written where asked."""
    if path.suffix.lower() != ".csv" or path.is_dir():
        raise InputError(f"the summary '{path}' must be a .csv file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".reelforge-write-test-", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write the summary in '{path.parent}': {exc.strerror}") from None
    return path


def write_summary(path: Path, results: list[RowResult]) -> None:
    """Rewrite the summary atomically (a killed run leaves the previous complete file)."""
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SUMMARY_FIELDS)
        for r in sorted(results, key=lambda r: r.row.number):
            w.writerow([r.row.number, r.row.prompt, str(r.row.output or ""),
                        "" if r.duration is None else f"{r.duration:.3f}",
                        "" if r.seconds is None else f"{r.seconds:.1f}",
                        r.status, r.error or "", r.row.key])  # fmt: skip
    os.replace(tmp, path)


def already_done(row: BatchRow, previous: dict[str, dict[str, str]]) -> dict[str, str] | None:
    if row.output is None or not row.output.is_file():
        return None
    line = previous.get(str(row.output))
    if line is None or line.get("status") != "done" or line.get("key") != row.key:
        return None
    return line


# ---- making the videos ---------------------------------------------------------------------------


def default_parallel(cores: int | None = None) -> int:
    """Rows at once: one per two cores, at least two (one row's script, speech and stills overlap another
    row's ffmpeg render), at most four (memory)."""
    cores = cores or os.cpu_count() or 1
    return max(2, min(4, cores // 2))


class Batch:
    """Makes the checked rows, ``parallel`` at a time, reporting through the callbacks:
    ``on_progress(fraction of the whole batch)`` and ``on_done(result)``, from worker threads."""

    def __init__(
        self,
        rows: list[BatchRow],
        summary: Path,
        *,
        parallel: int,
        resume: bool = True,
        keep_work: bool = False,
        registry: Registry | None = None,
        on_progress: Callable[[float], None] | None = None,
        on_done: Callable[[RowResult], None] | None = None,
    ) -> None:
        self.rows, self.summary, self.parallel = rows, summary, max(1, parallel)
        self.keep_work = keep_work
        self.registry = registry or default_registry()
        self.on_progress = on_progress or (lambda f: None)
        self.on_done = on_done or (lambda r: None)
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._stages: dict[int, dict[str, tuple[int, int]]] = {}
        self._running: dict[int, float] = {}  # rows being made: how far each is
        self._caches: dict[tuple[str, bool], Cache] = {}
        self._finished = 0
        previous = read_summary(summary) if resume else {}
        self.results: dict[int, RowResult] = {}
        for row in rows:
            if row.error is not None:
                self.results[row.number] = RowResult(row, "invalid", error=row.error)
            elif (line := already_done(row, previous)) is not None:
                self.results[row.number] = RowResult(row, "done", _float(line.get("duration")),
                                                     _float(line.get("time")), skipped=True)  # fmt: skip
            else:
                self.results[row.number] = RowResult(row, "pending")
        self.todo = [r for r in rows if self.results[r.number].status == "pending"]

    def _report(self, number: int, e: ProgressEvent | None = None) -> None:
        """Fold a row's progress event into the batch's fraction (finished rows count whole)."""
        with self._lock:
            if e is None:  # the row finished
                self._running.pop(number, None)
                self._finished += 1
            else:
                stages = self._stages.setdefault(number, {})
                stages[e.stage] = (e.done, e.total)
                self._running[number] = min(0.99, overall_fraction(stages))
            made = self._finished + sum(self._running.values())
        self.on_progress(made / max(1, len(self.todo)))

    def _cache(self, settings: Settings) -> Cache:
        """One ``Cache`` per cache folder for the whole batch: with ``--no-cache`` an entry one row built is
        then used by the others rather than rebuilt while they read it."""
        with self._lock:
            key = (str(settings.cache_dir), settings.cache)
            if key not in self._caches:
                self._caches[key] = Cache(settings.cache_dir, enabled=settings.cache)
            return self._caches[key]

    def _make(self, row: BatchRow) -> RowResult:
        from .pipeline import Pipeline

        assert row.job is not None and row.output is not None
        if self.cancel.is_set():
            return RowResult(row, "cancelled")
        with self._lock:
            self.results[row.number] = RowResult(row, "running")
        t0 = time.perf_counter()
        try:
            pipe = Pipeline(row.job.settings, registry=self.registry, cache=self._cache(row.job.settings),
                            cancel=self.cancel, progress=functools.partial(self._report, row.number))  # fmt: skip
            result = pipe.make(
                row.job.request, row.output, storyboard=row.job.storyboard, keep_work=self.keep_work
            )
            return RowResult(row, "done", result.duration, time.perf_counter() - t0)
        except ReelforgeError as exc:
            status = "cancelled" if self.cancel.is_set() else "failed"
            return RowResult(row, status, seconds=time.perf_counter() - t0, error=str(exc))
        except Exception as exc:  # a bug in one row must not stop the others
            log.exception("row %d failed", row.number)
            return RowResult(
                row, "failed", seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}"
            )

    def _finish(self, fut: Future[RowResult]) -> None:
        if fut.cancelled():
            return
        res = fut.result()
        with self._lock:
            self.results[res.row.number] = res
            write_summary(self.summary, list(self.results.values()))
        self._report(res.row.number)
        if res.status != "cancelled":
            self.on_done(res)

    def run(self) -> BatchReport:
        """Make every row still to do; on KeyboardInterrupt the running rows are cancelled, the summary is
        written and the interrupt is raised again."""
        self.summary.parent.mkdir(parents=True, exist_ok=True)
        write_summary(self.summary, list(self.results.values()))
        pool = ThreadPoolExecutor(max_workers=min(self.parallel, max(1, len(self.todo))),
                                  thread_name_prefix="reelforge-batch")  # fmt: skip
        futures = []
        try:
            for row in self.todo:
                fut = pool.submit(self._make, row)
                fut.add_done_callback(self._finish)
                futures.append(fut)
            for fut in futures:
                while not fut.done():
                    time.sleep(0.1)  # a plain wait: Ctrl-C reaches the main thread
        except KeyboardInterrupt:
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            with self._lock:
                for number, res in self.results.items():
                    if res.status == "running":
                        self.results[number] = RowResult(res.row, "cancelled", error="interrupted")
                write_summary(self.summary, list(self.results.values()))
            raise
        pool.shutdown(wait=True)
        with self._lock:
            write_summary(self.summary, list(self.results.values()))
            return BatchReport(sorted(self.results.values(), key=lambda r: r.row.number))


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
