"""A finished job whose timeline has layers (an icon, a counter's images) and a transition: the timeline the
browser renderer fetches names every layer image as ``assets/<name>``, each is served byte for byte, and no other
file next to them is reachable. A seeded job (``svcseed``): nothing is rendered."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urljoin

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed: pip install -e '.[service]'")

from fastapi.testclient import TestClient
from svcseed import SEED, TOKEN, SeededService

from reelforge.compose.export import asset_names
from reelforge.models import Keyframe, Layer, Timeline
from reelforge.tools import find_ffmpeg

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _png(path: Path, color: str) -> Path:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={color}:size=16x16",
                    "-frames:v", "1", "-pix_fmt", "rgba", str(path)], check=True)  # fmt: skip
    return path


def test_layer_images_are_listed_and_served(tmp_path: Path) -> None:
    s = SeededService(tmp_path)
    layers_dir = tmp_path / "plan"
    layers_dir.mkdir()
    icon = _png(layers_dir / "icon.png", "red")
    digits = [_png(layers_dir / f"count {k}.PNG", c) for k, c in enumerate(("white", "yellow", "green"))]
    _png(layers_dir / "unused.png", "blue")  # beside them, in no timeline
    path = s.folder / "timeline.json"
    tl = Timeline.model_validate_json(path.read_text(encoding="utf-8"))
    seg = tl.segments[0].model_copy(update={"layers": (
        Layer(image=icon, width=16, height=16, keyframes=(Keyframe(t=0.2, x=20, y=20, opacity=0, scale=0.6, ease="out"),
                                                          Keyframe(t=0.6, x=20, y=20))),
        Layer(image=digits[0], width=16, height=16, frames=tuple(digits), frame_times=(0.5, 1.0, 1.5),
              keyframes=(Keyframe(t=0, x=40, y=20),)),
    )})  # fmt: skip
    tl = tl.model_copy(update={"segments": (seg,)})
    path.write_text(tl.model_dump_json(by_alias=True), encoding="utf-8")
    names = asset_names(tl)
    assert set(names.values()) >= {icon, *digits}

    with TestClient(s.app) as client:
        r = client.get(f"/v1/videos/{SEED}/timeline", headers=AUTH)
        assert r.status_code == 200, r.text
        doc = r.json()
        got = doc["segments"][0]["layers"]
        by_path = {p: n for n, p in names.items()}
        assert got[0]["image"] == f"assets/{by_path[icon]}"
        assert got[1]["frames"] == [f"assets/{by_path[p]}" for p in digits]
        assert str(tmp_path) not in json.dumps(doc)  # no server path leaks
        base = f"http://testserver/v1/videos/{SEED}/timeline"
        for url in [got[0]["image"], *got[1]["frames"]]:
            a = client.get(urljoin(base, url), headers=AUTH)  # as the renderer resolves it
            assert a.status_code == 200, (url, a.text)
            assert a.content == names[url.removeprefix("assets/")].read_bytes()
            assert a.headers["content-type"] == "image/png"
        # only the listed names: not the next index, not the file's own name, not a path to the file beside
        for name in (
            f"{len(names)}.png",
            "icon.png",
            "unused.png",
            "count%200.PNG",
            "..%2F..%2Fplan%2Funused.png",
        ):
            assert client.get(f"/v1/videos/{SEED}/assets/{name}", headers=AUTH).status_code == 404, name
