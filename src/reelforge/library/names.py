"""Library names and where they live (cheap: no FAISS, PyAV or embedder imports)."""

from __future__ import annotations

import re
from pathlib import Path

from ..config import default_library_dir
from ..errors import InputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DB_NAME = "library.sqlite3"


def library_path(name: str, root: Path | None = None) -> Path:
    """The folder of library ``name`` under ``root`` (default: the data dir); raises on a bad name."""
    if not _NAME.match(name):
        raise InputError(
            f"invalid library name {name!r}", hint="use letters, digits, '.', '_' or '-' (e.g. 'default')"
        )
    return Path(root or default_library_dir()).expanduser() / name


def check_library(name: str, root: Path | None = None) -> Path:
    """The library's folder if it exists; a clear error otherwise (used before any rendering work)."""
    d = library_path(name, root)
    if not (d / DB_NAME).is_file():
        raise InputError(
            f"there is no clip library named '{name}' in {d.parent}",
            hint=f"create it with: reelforge library add FOLDER --library {name}",
        )
    return d
