"""`reelforge warmup`: the one-time caches are made at install time, so a first video does not pay for them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from reelforge.cli import app
from reelforge.visuals import icons


def test_warmup_fills_the_caches_once(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("REELFORGE_CACHE_DIR", str(cache))
    icons._indexes.clear()  # as a new process: nothing in memory
    icons._by_embedder.clear()
    first = CliRunner().invoke(app, ["warmup"])
    assert first.exit_code == 0, first.output
    assert "icon embeddings" in first.output and "voice rate" in first.output
    assert list((cache / "embeddings").glob("openmoji-*.npy"))
    assert list((cache / "voice-rate").iterdir())
    made = sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file())
    again = CliRunner().invoke(app, ["warmup"])
    assert again.exit_code == 0
    assert sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file()) == made  # nothing new


def test_warmup_with_a_bad_config_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("images = [\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["warmup", "--config", str(bad)])
    assert res.exit_code == 2 and "Traceback" not in res.output
