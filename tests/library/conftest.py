"""The clip-library tests' shared footage."""

from __future__ import annotations

from pathlib import Path

import pytest
from libclips import CLIPS, make_clip, write_caption


@pytest.fixture(scope="session")
def footage(tmp_path_factory) -> Path:
    """A folder with the three captioned clips (fire, ocean waves, forest)."""
    root = tmp_path_factory.mktemp("footage")
    for rel, rgb, secs, caption in CLIPS.values():
        clip = make_clip(root / rel, rgb, secs)
        write_caption(clip, caption)
    return root
