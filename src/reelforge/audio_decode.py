"""Decode any audio file or byte string (MP3, AAC/M4A, Ogg/Opus, FLAC, WAV...) to float samples with
PyAV (libav*, the libraries behind ffmpeg), resampled to the rate and channel count asked for."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class DecodeError(Exception):
    """The input is not audio PyAV can decode."""


def decode_audio(
    source: Path | bytes,
    *,
    sample_rate: int | None = None,
    channels: int = 1,
    max_seconds: float | None = None,
) -> tuple[FloatArray, int]:
    """Samples as float32, ``(n,)`` for mono or ``(n, channels)``, and their rate.

    ``sample_rate=None`` keeps the stream's own rate. ``max_seconds`` stops decoding after that much.
    """
    import av

    layout = {1: "mono", 2: "stereo"}[channels]
    src: str | io.BytesIO = str(source) if isinstance(source, Path) else io.BytesIO(source)
    parts: list[np.ndarray] = []
    got = 0
    try:
        with av.open(src, mode="r") as container:
            if not container.streams.audio:
                raise DecodeError("no audio stream")
            stream = container.streams.audio[0]
            rate = sample_rate or int(stream.codec_context.sample_rate or stream.rate or 44100)
            limit = None if max_seconds is None else int(max_seconds * rate)
            resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
            done = False
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1, channels)
                    parts.append(arr)
                    got += len(arr)
                if limit is not None and got >= limit:
                    done = True
                    break
            if not done:
                for out in resampler.resample(None):
                    arr = out.to_ndarray().reshape(-1, channels)
                    parts.append(arr)
                    got += len(arr)
    except DecodeError:
        raise
    except Exception as exc:  # av.error.* and friends
        raise DecodeError(str(exc)) from None
    data = np.concatenate(parts) if parts else np.zeros((0, channels), dtype=np.float32)
    if limit is not None:
        data = data[:limit]
    data = np.ascontiguousarray(data, dtype=np.float32)
    return (data[:, 0] if channels == 1 else data), rate
