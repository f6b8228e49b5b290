"""Finding and running external programs (ffmpeg). Commands are argument lists, never shell strings."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from .errors import Cancelled, ComposeError, ToolMissing

_procs: set[subprocess.Popen[bytes]] = set()
_procs_lock = threading.Lock()


def find_ffmpeg(configured: str | None = None) -> str:
    """The ffmpeg to use: the configured one, else the binary imageio-ffmpeg ships, else PATH."""
    if configured:
        path = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if path and os.access(path, os.X_OK):
            return path
        raise ToolMissing(
            f"ffmpeg not found at '{configured}'",
            hint="fix REELFORGE_FFMPEG / --ffmpeg, or unset it to use the bundled imageio-ffmpeg binary",
        )
    try:
        import imageio_ffmpeg

        exe: str = imageio_ffmpeg.get_ffmpeg_exe()
        if exe and Path(exe).is_file():
            return exe
    except Exception:
        pass
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise ToolMissing(
        "ffmpeg not found", hint="pip install imageio-ffmpeg, or install ffmpeg and put it on PATH"
    )


def find_font(configured: Path | None = None) -> Path:
    """A TTF for titles and subtitles: the configured one, else DejaVu Sans Bold, else any TTF we can see."""
    if configured:
        if Path(configured).is_file():
            return Path(configured)
        raise ToolMissing(f"font file {configured} does not exist", hint="fix REELFORGE_FONT_FILE")
    candidates = [
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
        Path("/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
        Path("/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    ]
    for c in candidates:
        if c.is_file():
            return c
    for root in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
        if root.is_dir():
            for f in sorted(root.rglob("*.ttf")):
                return f
    raise ToolMissing(
        "no TrueType font found for titles and subtitles",
        hint="install fonts-dejavu-core (apt) or set REELFORGE_FONT_FILE",
    )


def run(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    cancel: threading.Event | None = None,
    what: str = "ffmpeg",
    timeout: float | None = None,
) -> str:
    """Run a command, return its stderr; raise ``ComposeError`` with the stderr tail on failure.

    Processes are tracked so ``kill_all`` (cancellation) can stop them; a set ``cancel`` event kills it.
    """
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    with _procs_lock:
        _procs.add(proc)
    try:
        if cancel is None:
            _, err = proc.communicate(timeout=timeout)
        else:
            result: list[bytes] = []

            def _read() -> None:
                o, e = proc.communicate()
                result.extend([o, e])

            reader = threading.Thread(target=_read, daemon=True)
            reader.start()
            while reader.is_alive():
                reader.join(0.1)
                if cancel.is_set():
                    _kill(proc)
                    reader.join(2)
                    raise Cancelled("cancelled")
            err = result[1]
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise ComposeError(f"{what} took longer than {timeout:g} s and was stopped") from None
    finally:
        with _procs_lock:
            _procs.discard(proc)
    text = err.decode("utf-8", "replace")
    if proc.returncode != 0 and cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")  # killed because the job was cancelled, not a real failure
    if proc.returncode != 0:
        tail = " | ".join(line for line in text.strip().splitlines()[-4:])
        raise ComposeError(f"{what} failed (exit {proc.returncode}): {tail or 'no message'}")
    return text


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_all() -> None:
    with _procs_lock:
        procs = list(_procs)
    for p in procs:
        _kill(p)
