"""WAV reading/writing helpers (16-bit PCM) shared by the audio stages."""

from __future__ import annotations

import contextlib
import os
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def write_wav(path: Path, audio: FloatArray, sample_rate: int) -> None:
    """Write float audio in [-1, 1] (shape (n,) or (n, channels)) as 16-bit PCM."""
    data = np.asarray(audio, dtype=np.float32)
    channels = 1 if data.ndim == 1 else data.shape[1]
    pcm = (np.clip(data, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


def read_wav(path: Path) -> tuple[FloatArray, int]:
    """Read a 16-bit PCM WAV as float32; mono → (n,), otherwise (n, channels)."""
    with wave.open(str(path), "rb") as w:
        sr = w.getframerate()
        ch = w.getnchannels()
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        raw = w.readframes(w.getnframes())
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if ch > 1:
        data = data.reshape(-1, ch)
    return data, sr


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


@contextlib.contextmanager
def atomic_binary(out_path: Path, error: type[Exception], what: str) -> Iterator[BinaryIO]:
    """Write a file through a temporary sibling renamed into place on success; an ``OSError`` becomes
    ``error`` ("cannot write the <what> to <path>"), and no partial file is ever left behind."""
    out_path = Path(out_path)
    tmp: Path | None = None
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".part")
        tmp = Path(name)
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise error(f"cannot write the {what} to {out_path}: {exc}") from exc
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
