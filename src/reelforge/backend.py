"""What every backend shares: a name, a version, an ``Options`` model and one ``execute`` method.

The identity (name + version + options) is part of every cache key, so changing a backend's
options or bumping its version invalidates exactly the work it did.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError


class BackendOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Backend:
    name: ClassVar[str] = "base"
    version: ClassVar[str] = "1"
    #: one line for ``reelforge backends`` and the API
    description: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions

    def __init__(self, options: BackendOptions | dict[str, Any] | None = None) -> None:
        if options is None:
            options = {}
        if isinstance(options, dict):
            try:
                options = self.Options(**options)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors()
                )
                raise ConfigError(f"bad options for backend '{self.name}': {problems}") from None
        self.options = options

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "options": self.options.model_dump(mode="json")}
