from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.config import Settings, load_settings


@pytest.fixture
def make_settings(tmp_path: Path):
    """Settings with a private cache directory (tests never touch ~/.cache)."""

    def _make(**kw) -> Settings:
        kw.setdefault("cache_dir", tmp_path / "cache")
        return load_settings(None, **kw)

    return _make
