"""A throw-away PostgreSQL server for the tests, and helpers that open a job store in a child process.

The server is a real ``postgres`` from the Debian packages (``initdb`` and ``pg_ctl`` on PATH, or under
``/usr/lib/postgresql/*/bin``; ``.ci/run`` installs them), in a private data directory, listening on a free
loopback port and on a unix socket in that directory, with durability off (``fsync``, full-page writes,
synchronous commit): a crash loses nothing a test needs. Each test gets its own database from
:func:`fresh_database`, so tests never see each other's jobs.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres`` user (else
``nobody``) through ``runuser``, in a directory under ``/tmp`` that user owns (pytest's own tmp dirs are
private to root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from svcutil import free_port


def find_bindir() -> Path | None:
    """The directory of ``pg_ctl``, ``initdb`` and ``postgres``: PATH first, then the newest Debian version."""
    exe = shutil.which("pg_ctl")
    if exe is not None:
        # /usr/local/bin/pg_ctl is often a link into /usr/lib/postgresql/N/bin, where ``postgres`` lives
        return Path(exe).resolve().parent
    found = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name))

    return Path(max(found, key=version)).parent if found else None


def _run_as() -> str | None:
    """The user to run the server as: none (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    pytest.skip("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass
class PgServer:
    """A running throw-away cluster; ``postgres`` is its superuser, trusted without a password."""

    bindir: Path
    root: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _cmd(self, args: Sequence[str]) -> list[str]:
        return (["runuser", "-u", self.user, "--"] if self.user else []) + list(args)

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(self._cmd([str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]),
                       check=True, capture_output=True, timeout=timeout)  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.pg_ctl("stop", "-m", "immediate", "-w", timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PgServer:
    """Create a cluster in a fresh directory and start it; skips the test when PostgreSQL is not installed."""
    bindir = find_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[service]'")
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="reelforge-pg-"))  # short: a unix socket path has ~100 bytes
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    server = PgServer(bindir, root, 0, user)
    try:
        subprocess.run(server._cmd([str(bindir / "initdb"), "-D", str(server.data), "-U", "postgres",
                                    "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        for _ in range(3):  # another process may take the free port before the server binds it
            server.port = free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.socket_dir} -c fsync=off"
                    " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")  # fmt: skip
            try:
                server.pg_ctl("start", "-w", "-t", "60", "-l", str(root / "log"), "-o", opts, timeout=90)
                return server
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        log = (root / "log").read_text(errors="replace")[-2000:] if (root / "log").exists() else ""
        pytest.fail(f"PostgreSQL did not start:\n{log}")
    except BaseException:
        server.stop()
        raise


@contextlib.contextmanager
def postgres_server(work: Path | None = None) -> Iterator[str]:
    """A running server for the ``with`` block; yields the URL of its ``postgres`` database. ``work`` is
    unused: the cluster needs a directory its user can reach, which pytest's (private to root) is not."""
    server = start_postgres()
    try:
        yield server.url()
    finally:
        server.stop()


def fresh_database(url: str) -> str:
    """A new empty database on the server at ``url``; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(url)._replace(path="/" + name))
