from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away PostgreSQL server (tests/pgserver.py) for the whole session; tests take a fresh
    database each with ``pgserver.fresh_database``."""
    from pgserver import postgres_server

    with postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint (moto server) on loopback for the whole session (tests/s3server.py)."""
    from s3server import s3_server

    with s3_server() as url:
        yield url
