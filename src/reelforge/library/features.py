"""The two kinds of embedders a library uses, behind one small interface.

* Text (always): MiniLM from ``reelforge.embed.default_embedder()`` over everything that describes a clip
  (name, folders, captions, tags) and over each scene's visual description at query time.
* Visual (optional): CLIP through ``open_clip`` (image and text in one space: visual search by words) or
  MobileNetV3 through ``torchvision`` (image features only: de-duplication). Only weights already on disk
  are used - never a download: CLIP from ``$REELFORGE_CLIP_WEIGHTS`` (a checkpoint file; the architecture
  from ``$REELFORGE_CLIP_MODEL``, default ``ViT-B-32``), MobileNetV3-small from torch's hub cache. When none
  is found the library is text-only, and says so in one log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..embed import TextEmbedder, default_embedder

log = logging.getLogger("reelforge.library")

__all__ = ["TextEmbedder", "VisualEmbedder", "load_visual", "text_embedder"]


@runtime_checkable
class VisualEmbedder(Protocol):
    """Turns RGB frames (``(h, w, 3)`` uint8) into unit vectors."""

    name: str
    dim: int
    #: the short side, in pixels, of the frames it wants
    pixels: int

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(len(images), dim)`` float32, L2-normalised rows."""
        ...

    def embed_text(self, texts: Sequence[str]) -> np.ndarray | None:
        """Vectors in the image space for texts (CLIP), or None when the model cannot read text."""
        ...


def text_embedder() -> TextEmbedder:
    return default_embedder()


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    out: np.ndarray = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return out


class ClipVisual:
    """CLIP image + text towers from open_clip, loaded from a local checkpoint only."""

    pixels = 224

    def __init__(self, weights: Path, arch: str = "ViT-B-32") -> None:
        import open_clip
        import torch

        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=str(weights))
        model.eval()
        self._model, self._preprocess = model, preprocess
        self._tokenizer = open_clip.get_tokenizer(arch)
        self._torch = torch
        with torch.no_grad():
            probe = model.encode_text(self._tokenizer(["a"]))
        self.dim = int(probe.shape[-1])
        self.name = f"open_clip/{arch}/{weights.name}"

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        from PIL import Image

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self._torch.stack([self._preprocess(Image.fromarray(im)) for im in images])
        with self._torch.no_grad():
            out = self._model.encode_image(batch).float().numpy()
        return _normalise(out)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray | None:
        with self._torch.no_grad():
            out = self._model.encode_text(self._tokenizer(list(texts))).float().numpy()
        return _normalise(out)


class MobileNetVisual:
    """MobileNetV3-small's pooled features (576-d) from torchvision, with local weights only."""

    pixels = 224
    dim = 576

    def __init__(self, weights: Path) -> None:
        import torch
        from torchvision.models import mobilenet_v3_small

        model = mobilenet_v3_small(weights=None)
        model.load_state_dict(torch.load(str(weights), map_location="cpu", weights_only=True))
        model.eval()
        self._features, self._pool, self._torch = model.features, model.avgpool, torch
        self.name = f"torchvision/mobilenet_v3_small/{weights.name}"
        self._mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
        self._std = np.array([0.229, 0.224, 0.225], dtype=np.float32)

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        arrs = []
        for im in images:
            h, w = im.shape[:2]
            s = min(h, w)
            y, x = (h - s) // 2, (w - s) // 2
            crop = im[y : y + s, x : x + s].astype(np.float32) / 255.0
            arrs.append(((crop - self._mean) / self._std).transpose(2, 0, 1))
        batch = self._torch.from_numpy(np.stack(arrs))
        batch = self._torch.nn.functional.interpolate(batch, size=(224, 224), mode="bilinear", antialias=True)
        with self._torch.no_grad():
            out = self._pool(self._features(batch)).flatten(1).numpy()
        return _normalise(out)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray | None:
        return None


def _mobilenet_weights() -> Path | None:
    try:
        import torch

        hub = Path(torch.hub.get_dir()) / "checkpoints"
    except Exception:
        return None
    found = sorted(hub.glob("mobilenet_v3_small*.pth")) if hub.is_dir() else []
    return found[0] if found else None


_announced: set[str] = set()


def _once(message: str) -> None:
    if message not in _announced:
        _announced.add(message)
        log.info(message)


def load_visual(choice: str | VisualEmbedder | None = "auto") -> VisualEmbedder | None:
    """The visual embedder for ``choice`` (auto, clip, mobilenet, none, or an instance); None when there are
    no local weights (logged once), or for ``none``."""
    if choice is None or choice == "none":
        return None
    if not isinstance(choice, str):
        return choice
    if choice not in ("auto", "clip", "mobilenet"):
        raise ValueError(f"unknown visual embedder {choice!r}; use auto, clip, mobilenet or none")
    reasons: list[str] = []
    if choice in ("auto", "clip"):
        weights = os.environ.get("REELFORGE_CLIP_WEIGHTS")
        if weights and Path(weights).is_file():
            try:
                return ClipVisual(Path(weights), os.environ.get("REELFORGE_CLIP_MODEL", "ViT-B-32"))
            except Exception as exc:
                reasons.append(f"CLIP: {type(exc).__name__}: {exc}")
        else:
            reasons.append("CLIP: no weights (set REELFORGE_CLIP_WEIGHTS to an open_clip checkpoint)")
    if choice in ("auto", "mobilenet"):
        mw = _mobilenet_weights()
        if mw is not None:
            try:
                return MobileNetVisual(mw)
            except Exception as exc:
                reasons.append(f"MobileNetV3: {type(exc).__name__}: {exc}")
        else:
            reasons.append("MobileNetV3: no weights in torch's hub cache")
    _once("visual embedder: none, the library is text-only (" + "; ".join(reasons) + ")")
    return None


def identity(embedder: Any) -> str:
    return str(getattr(embedder, "name", type(embedder).__name__))
