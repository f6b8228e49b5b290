"""The service commands of the CLI, and that the core CLI does not need the service extra."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from reelforge.cli import app


def test_core_cli_imports_no_service_dependencies():
    code = "import sys, reelforge.cli; bad = {'fastapi', 'celery', 'uvicorn', 'starlette'} & set(sys.modules); print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "set()"


def test_serve_refuses_a_public_address_without_tokens(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[service]\nartifact_dir = "{tmp_path / "jobs"}"\n')
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--config", str(cfg)])
    assert r.exit_code == 2
    assert "needs tokens" in r.output


def test_serve_and_worker_check_their_options():
    r = CliRunner().invoke(app, ["serve", "--executor", "threads"])
    assert r.exit_code == 2 and "unknown executor" in r.output
    r = CliRunner().invoke(app, ["worker", "--queues", "fast"])
    assert r.exit_code == 2 and "--queues takes cpu, gpu" in r.output
    r = CliRunner().invoke(app, ["--help"])
    assert "serve" in r.output and "worker" in r.output
