"""``reelforge serve`` and ``reelforge worker``. FastAPI, uvicorn and Celery are imported only when these
commands run, so the core command line works without the ``service`` extra."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Annotated

import typer


def _need(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        from ..errors import ToolMissing

        raise ToolMissing(
            f"'{module}' is not installed; the service needs it",
            hint="pip install 'reelforge[service]'",
        )


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``reelforge`` command line."""

    @app.command()
    def serve(
        host: Annotated[
            str, typer.Option(help="Address to listen on (tokens are required off loopback).")
        ] = ("127.0.0.1"),
        port: Annotated[int, typer.Option(help="Port.")] = 8000,
        executor: Annotated[
            str | None, typer.Option(help="local (jobs run in this process) or celery (reelforge worker).")
        ] = None,
        workers: Annotated[int | None, typer.Option(help="Concurrent jobs of the local executor.")] = None,
        config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
        log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    ) -> None:
        """Run the REST API and web UI (http://HOST:PORT/, API docs at /docs)."""
        from ..config import load_settings
        from ..console import fail
        from ..errors import ReelforgeError

        try:
            if executor not in (None, "local", "celery"):
                raise ReelforgeError(f"unknown executor '{executor}'; choose local or celery")
            for module in ("fastapi", "uvicorn") + (("celery",) if executor == "celery" else ()):
                _need(module)
            settings = load_settings(config)
            svc_update: dict[str, object] = {}
            if executor:
                svc_update["executor"] = executor
            if workers:
                svc_update["local_workers"] = workers
            if svc_update:
                service = settings.service.model_copy(update=svc_update)
                settings = settings.model_copy(update={"service": service})
            import uvicorn

            from .app import create_app

            logging.basicConfig(
                level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
            api = create_app(settings, host=host)
        except ReelforgeError as exc:
            fail(str(exc))
            return
        # open event streams must not hold a shutdown up: give them 5 s, then close them
        uvicorn.run(api, host=host, port=port, log_level=log_level.lower(), timeout_graceful_shutdown=5)

    @app.command()
    def worker(
        queues: Annotated[str, typer.Option(help="Comma-separated queues to take jobs from.")] = "cpu,gpu",
        concurrency: Annotated[int, typer.Option(help="Jobs at once.")] = 1,
        pool: Annotated[str, typer.Option(help="Celery pool: prefork, threads or solo.")] = "prefork",
        config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
        log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
        name: Annotated[str | None, typer.Option(help="Worker name (default: unique).")] = None,
    ) -> None:
        """Run a Celery worker that makes the videos queued by `reelforge serve --executor celery`."""
        from ..config import load_settings
        from ..console import fail
        from ..errors import ReelforgeError

        try:
            _need("celery")
            if pool not in ("prefork", "threads", "solo"):
                raise ReelforgeError(f"unknown pool '{pool}'; choose prefork, threads or solo")
            wanted = [q.strip() for q in queues.split(",") if q.strip()]
            if not wanted or any(q not in ("cpu", "gpu") for q in wanted):
                raise ReelforgeError("--queues takes cpu, gpu or cpu,gpu")
            settings = load_settings(config)
            from .celery_app import create_celery

            celery = create_celery(settings)
        except ReelforgeError as exc:
            fail(str(exc))
            return
        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        celery.worker_main(
            ["worker", "-Q", ",".join(wanted), "-c", str(max(1, concurrency)), "-P", pool,
             "--loglevel", log_level.upper(), "-n", name or f"reelforge-{uuid.uuid4().hex[:6]}@%h",
             "--without-gossip", "--without-mingle"]
        )  # fmt: skip
