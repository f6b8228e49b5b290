"""Typed errors. Every error a user can cause or fix is a ``ReelforgeError`` whose message says
what was wrong and how to fix it; the CLI and the API print that message, never a traceback.

Each stage has its own subclass so callers (and tests) can tell where a failure came from.
"""

from __future__ import annotations


class ReelforgeError(Exception):
    """Base class for every error reelforge raises on purpose."""

    #: short machine-readable kind, used by the API's error bodies
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} ({hint})")


class InputError(ReelforgeError):
    """The user's request (prompt, duration, options, file) is not acceptable."""

    kind = "input"


class ConfigError(ReelforgeError):
    """The configuration (file, environment, flags) is invalid."""

    kind = "config"


class BackendNotFound(ConfigError):
    """A backend name that no installed plugin provides."""

    kind = "backend"


class ToolMissing(ReelforgeError):
    """An external program (ffmpeg, espeak-ng, ...) could not be found."""

    kind = "tool"


class OutputError(ReelforgeError):
    """The output cannot be written where the user asked."""

    kind = "output"


class CacheError(ReelforgeError):
    kind = "cache"


class ScriptError(ReelforgeError):
    """The script stage could not produce a storyboard."""

    kind = "script"


class LLMUnavailable(ScriptError):
    """The LLM endpoint is down, too slow or keeps failing after its retries (not a configuration error
    such as a bad key or an unknown model): ``auto`` falls back to another writer on this one."""


class NarrationError(ReelforgeError):
    """Text-to-speech failed."""

    kind = "narration"


class VisualsError(ReelforgeError):
    """An image or clip for a scene could not be produced."""

    kind = "visuals"


class MusicError(ReelforgeError):
    """Background music could not be produced."""

    kind = "music"


class ComposeError(ReelforgeError):
    """Rendering (ffmpeg) failed."""

    kind = "compose"


class Cancelled(ReelforgeError):
    """The job was cancelled while running."""

    kind = "cancelled"


class StoreError(ReelforgeError):
    """The service's job database or object storage cannot be used (unreachable, refused, misconfigured)."""

    kind = "store"


class StoreUnavailable(StoreError, ConnectionError):
    """The job database or object storage did not answer: worth another try (a ``ConnectionError``)."""


class StorageError(StoreError):
    """Object storage (``service.storage_url``) cannot be used: a missing bucket, refused keys, a bad URL."""

    kind = "storage"


class StorageUnavailable(StorageError, StoreUnavailable):
    """Object storage did not answer (after its retries): worth another try."""
