"""What every command of the ``reelforge`` command line shares: its two consoles and its error style (one
clear line on stderr and exit code 2, never a traceback).

Command modules (``cli``, ``batch_cli``, ``hub_cli``, ``service.cli``, ...) import this module; it imports
none of them, so the command line has no import cycles.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

err = Console(stderr=True)
out = Console()


def validation_message(exc: ValidationError, prefix: str = "") -> str:
    """A pydantic error as one line: ``loc: message; loc: message``."""
    parts = []
    for e in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{prefix}{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code`` (2: the input was bad)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)
