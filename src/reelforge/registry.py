"""Backends are found by name. Built-ins are declared as entry points in ``pyproject.toml`` exactly as
a third-party plugin would declare its own (``[project.entry-points."reelforge.visuals"]``)."""

from __future__ import annotations

import threading
from importlib.metadata import entry_points
from typing import Any

from .errors import BackendNotFound

STAGES = ("script", "narration", "visuals", "music", "compose")


class Registry:
    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._classes: dict[str, dict[str, Any]] = {s: {} for s in STAGES}
        self._load = load_entry_points
        self._loaded = False
        self._lock = threading.Lock()

    def _ensure_loaded(self) -> None:
        if self._loaded or not self._load:
            return
        with self._lock:  # threads (API requests) that ask at once all wait for the complete list
            if self._loaded:
                return
            for stage in STAGES:
                for ep in entry_points(group=f"reelforge.{stage}"):
                    self._classes[stage].setdefault(ep.name, ep)
            self._loaded = True

    def register(self, stage: str, cls: Any, name: str | None = None) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        self._classes[stage][name or cls.name] = cls

    def names(self, stage: str) -> list[str]:
        self._ensure_loaded()
        return sorted(self._classes[stage])

    def get(self, stage: str, name: str) -> Any:
        self._ensure_loaded()
        found = self._classes[stage].get(name)
        if found is None:
            available = ", ".join(self.names(stage)) or "none installed"
            raise BackendNotFound(f"unknown {stage} backend '{name}'; available: {available}")
        if hasattr(found, "load") and not isinstance(found, type):  # an entry point: import on first use
            found = found.load()
            self._classes[stage][name] = found
        return found

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        """Every installed backend per stage, with its version, description and options schema (for
        ``reelforge backends`` and ``GET /v1/backends``); a broken plugin is listed with its error."""
        data: dict[str, list[dict[str, Any]]] = {}
        for stage in STAGES:
            data[stage] = []
            for name in self.names(stage):
                try:
                    cls = self.get(stage, name)
                    data[stage].append({"name": name, "version": cls.version, "description": cls.description,
                                        "options": cls.Options.model_json_schema().get("properties", {})})  # fmt: skip
                except Exception as exc:
                    data[stage].append({"name": name, "error": str(exc)})
        return data

    def create(self, stage: str, name: str, options: dict[str, Any] | None = None) -> Any:
        return self.get(stage, name)(options or {})


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry()
    return _default
