"""``reelforge models list|pull|remove`` against a fake Hugging Face Hub on 127.0.0.1 (``HF_ENDPOINT``):
pulls land in the Hub's normal cache with progress, an interrupted pull continues with a range request,
``--llm-model NAME`` / ``--image-model NAME`` find what was pulled, and offline with nothing pulled the
error is one clear line. Nothing here reaches the internet."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hubfake import FakeHub, FakeRepo

from reelforge import hub

GGUF = "qwen2.5-1.5b-instruct-q4_k_m.gguf"
QWEN = "Qwen/Qwen2.5-1.5B-Instruct-GGUF"
#: over huggingface_hub's 10 MB download chunk, so a cut download leaves a partial file to continue
GGUF_BYTES = hashlib.shake_256(b"reelforge").digest(12_000_000)
SD_FILES = {
    "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
    "scheduler/scheduler_config.json": b"{}",
    "text_encoder/config.json": b"{}",
    "text_encoder/model.safetensors": b"T" * 4000,
    "text_encoder/model.fp16.safetensors": b"t" * 2000,
    "tokenizer/vocab.json": b"{}",
    "tokenizer/merges.txt": b"#",
    "unet/config.json": b"{}",
    "unet/diffusion_pytorch_model.safetensors": b"U" * 8000,
    "unet/diffusion_pytorch_model.fp16.safetensors": b"u" * 4000,
    "vae/config.json": b"{}",
    "vae/diffusion_pytorch_model.safetensors": b"V" * 3000,  # no fp16 file: the full one is taken
    "sd_turbo.safetensors": b"S" * 9000,  # a single-file checkpoint diffusers does not load
    "README.md": b"# sd-turbo",
}


@pytest.fixture
def fake_hub():
    weights = {n for n in SD_FILES if n.endswith(".safetensors")}
    repos = {
        QWEN: FakeRepo({GGUF: GGUF_BYTES, "README.md": b"# Qwen"}, lfs=frozenset({GGUF})),
        "stabilityai/sd-turbo": FakeRepo(SD_FILES, commit="f" * 40, lfs=frozenset(weights)),
    }
    server = FakeHub(repos).start()
    yield server
    server.stop()


@pytest.fixture
def env(tmp_path, fake_hub, monkeypatch):
    e = {
        "HF_ENDPOINT": fake_hub.url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "REELFORGE_CACHE_DIR": str(tmp_path / "cache"),
    }
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    for k in ("HF_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(k, raising=False)
    return e


def cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "reelforge", *args], capture_output=True, text=True, env=e,
                          cwd=cwd, timeout=180)  # fmt: skip


def listed(env: dict[str, str]) -> dict[str, dict]:
    r = cli("models", "list", "--json", env=env)
    assert r.returncode == 0, r.stderr
    return {m["name"]: m for m in json.loads(r.stdout)["models"]}


def test_list_shows_what_is_recommended_and_installed(env):
    models = listed(env)
    assert {"qwen2.5-1.5b", "qwen2.5-3b", "sd-turbo"} <= set(models)
    assert models["smollm2-135m"]["status"] == "bundled"
    assert models["qwen2.5-1.5b"]["status"] == "not pulled" and models["qwen2.5-1.5b"]["kind"] == "writer"
    assert models["sd-turbo"]["kind"] == "images"
    text = cli("models", "list", env=env)
    assert text.returncode == 0 and "qwen2.5-1.5b" in text.stdout and "not pulled" in text.stdout


def test_pull_with_progress_then_local_writer_uses_it_by_name_then_remove(env, fake_hub):
    r = cli("models", "pull", "qwen2.5-1.5b", env=env)
    assert r.returncode == 0, r.stderr
    assert "✓ qwen2.5-1.5b" in r.stdout and "12.0 MB downloaded" in r.stdout and "--llm-model" in r.stdout
    assert "100% of 12.0 MB" in r.stderr  # progress, a line per quarter when stderr is not a terminal
    # the Hub's normal cache layout: blob named by the SHA-256, a snapshot link, refs/main
    repo = Path(env["HF_HUB_CACHE"]) / "models--Qwen--Qwen2.5-1.5B-Instruct-GGUF"
    sha = hashlib.sha256(GGUF_BYTES).hexdigest()
    assert (repo / "blobs" / sha).read_bytes() == GGUF_BYTES
    assert (repo / "refs" / "main").read_text() == fake_hub.repos[QWEN].commit
    snap = repo / "snapshots" / fake_hub.repos[QWEN].commit / GGUF
    assert snap.is_symlink() and snap.resolve() == (repo / "blobs" / sha).resolve()
    assert listed(env)["qwen2.5-1.5b"]["status"] == "installed"

    from reelforge.script.local import LocalWriter

    assert LocalWriter({"model": "qwen2.5-1.5b"}).model_path() == snap
    assert LocalWriter({"model": f"{QWEN}/{GGUF}"}).model_path() == snap

    again = cli("models", "pull", "qwen2.5-1.5b", env=env)  # nothing to download
    assert again.returncode == 0 and "already there" in again.stdout
    assert len(fake_hub.gets(GGUF)) == 1

    gone = cli("models", "remove", "qwen2.5-1.5b", env=env)
    assert gone.returncode == 0, gone.stderr
    assert "12.0 MB freed" in gone.stdout and not (repo / "blobs" / sha).exists()
    assert listed(env)["qwen2.5-1.5b"]["status"] == "not pulled"
    twice = cli("models", "remove", "qwen2.5-1.5b", env=env)
    assert twice.returncode == 2 and "is not installed" in twice.stderr and "Traceback" not in twice.stderr


def test_an_interrupted_pull_continues_where_it_stopped(env, fake_hub):
    fake_hub.cut_after[GGUF] = 11_000_000  # the connection drops after 11 MB ...
    fake_hub.refuse_after_cut = True  # ... and the Hub is unreachable for the automatic retry
    r = cli("models", "pull", "qwen2.5-1.5b", env=env)
    assert r.returncode == 2
    assert "stopped at 10.5 of 12.0 MB" in r.stderr and "run the same command again" in r.stderr
    assert "Traceback" not in r.stderr
    blobs = Path(env["HF_HUB_CACHE"]) / "models--Qwen--Qwen2.5-1.5B-Instruct-GGUF" / "blobs"
    (partial,) = blobs.glob("*.incomplete")
    kept = partial.stat().st_size
    assert kept == 10 * 2**20  # whole 10 MB chunks are written; the rest is fetched again

    fake_hub.refuse, fake_hub.refuse_after_cut = None, False
    r = cli("models", "pull", "qwen2.5-1.5b", env=env)
    assert r.returncode == 0, r.stderr
    assert "10.5 MB kept from before" in r.stdout and "1.5 MB downloaded" in r.stdout
    assert fake_hub.gets(GGUF)[-1]["range"] == f"bytes={kept}-"  # only the rest was asked for
    assert not list(blobs.glob("*.incomplete"))
    assert (blobs / hashlib.sha256(GGUF_BYTES).hexdigest()).read_bytes() == GGUF_BYTES


def test_progress_reaches_the_whole_file(env):
    seen: list[tuple[str, int, int | None]] = []
    result = hub.pull("qwen2.5-1.5b", progress=lambda f, done, total: seen.append((f, done, total)))
    assert result.downloaded == len(GGUF_BYTES) and result.path.read_bytes() == GGUF_BYTES
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[0] == 0 and done[-1] == len(GGUF_BYTES)
    assert {f for f, _, _ in seen} == {GGUF} and {t for _, _, t in seen} == {len(GGUF_BYTES)}


def test_pull_a_diffusion_model_and_name_it_with_image_model(env, fake_hub):
    r = cli("models", "pull", "sd-turbo", "--variant", "fp16", env=env)
    assert r.returncode == 0, r.stderr
    snap = Path(env["HF_HUB_CACHE"]) / "models--stabilityai--sd-turbo" / "snapshots" / ("f" * 40)
    got = sorted(p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file())
    assert got == sorted([
        "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors", "tokenizer/merges.txt", "tokenizer/vocab.json",
        "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors", "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ])  # fmt: skip
    models = listed(env)
    assert models["sd-turbo"]["status"] == "installed" and models["sd-turbo"]["variant"] == "fp16+fp32"

    from reelforge.make_options import MakeOptions, prepare

    job = prepare(MakeOptions(prompt="bees", image_model="sd-turbo"))
    assert job.settings.images == "diffusion"
    assert job.settings.options["diffusion"]["model"] == "stabilityai/sd-turbo"  # found in the Hub cache

    assert cli("models", "remove", "sd-turbo", env=env).returncode == 0
    assert not snap.exists() and listed(env)["sd-turbo"]["status"] == "not pulled"


def test_offline_with_nothing_pulled_is_one_clear_line(env, tmp_path):
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    r = cli("make", "bees", "-d", "5", "--writer", "local", "--llm-model", "qwen2.5-1.5b", env=offline,
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "the model 'qwen2.5-1.5b' is not on this machine" in r.stderr
    assert "reelforge models pull qwen2.5-1.5b" in r.stderr
    assert not list(tmp_path.glob("*.mp4"))

    r = cli("models", "pull", "qwen2.5-1.5b", env=offline)
    assert r.returncode == 2 and "HF_HUB_OFFLINE is set" in r.stderr and "Traceback" not in r.stderr

    with socket.socket() as s:  # a port nothing listens on: the Hub cannot be reached
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    r = cli("models", "pull", "qwen2.5-1.5b", env={**env, "HF_ENDPOINT": closed})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"cannot reach the Hugging Face Hub at {closed}" in r.stderr


def test_unknown_names_are_clear(env):
    r = cli("models", "pull", "gpt-17", env=env)
    assert r.returncode == 2 and "unknown model 'gpt-17'" in r.stderr and "qwen2.5-1.5b" in r.stderr
    r = cli("models", "pull", "nobody/nothing-GGUF/x.gguf", env=env)
    assert r.returncode == 2 and "no such repository" in r.stderr
    r = cli("models", "pull", f"{QWEN}/missing.gguf", env=env)
    assert r.returncode == 2 and "no such file" in r.stderr
    r = cli("make", "bees", "--writer", "local", "--llm-model", "sd-turbo", env=env)
    assert r.returncode == 2 and "is an image model" in r.stderr
