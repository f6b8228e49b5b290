"""The numpy MiniLM embedder: shape, normalisation, meaning, batching, and parity with the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelforge.embed import EmbedderError, MiniLMEmbedder, TextEmbedder, cosine, default_embedder

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def emb() -> MiniLMEmbedder:
    return default_embedder()


def test_shape_dtype_and_unit_norm(emb: MiniLMEmbedder) -> None:
    v = emb.embed(["dog", "a honey bee on a flower", "", "Ünïcödé naïve café 🐝"])
    assert v.shape == (4, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(v).all()
    assert emb.embed([]).shape == (0, 384)


def test_interface(emb: MiniLMEmbedder) -> None:
    assert isinstance(emb, TextEmbedder)
    assert emb.dim == 384 and emb.name
    assert default_embedder() is emb  # one per process
    with pytest.raises(TypeError):
        emb.embed("not a list")  # type: ignore[arg-type]


def test_meaning(emb: MiniLMEmbedder) -> None:
    dog, puppy, rocket, cat = emb.embed(["dog", "puppy", "rocket", "cat"])
    assert dog @ puppy > dog @ rocket + 0.2
    assert dog @ cat > dog @ rocket
    s = cosine(emb.embed(["a honey bee on a flower"]), emb.embed(["honeybee", "spaceship"]))
    assert s[0, 0] > s[0, 1]


def test_batching_and_padding_do_not_change_vectors(emb: MiniLMEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about bees and flowers", "x", "medium length text here"]
    batched = emb.embed(texts)
    alone = np.stack([emb.embed([t])[0] for t in texts])
    assert np.allclose(batched, alone, atol=2e-5)
    small = MiniLMEmbedder(batch_size=1).embed(texts)  # a different batching: same answers
    assert np.allclose(small, batched, atol=2e-5)


def test_deterministic(emb: MiniLMEmbedder) -> None:
    a = emb.embed(["how bees make honey"])
    b = emb.embed(["how bees make honey"])
    assert np.array_equal(a, b)


def test_matches_sentence_transformers_reference(emb: MiniLMEmbedder) -> None:
    """Reference vectors computed once with sentence-transformers + torch (all-MiniLM-L6-v2, normalised)."""
    ref = np.load(HERE / "minilm_reference.npz", allow_pickle=False)
    ours = emb.embed([str(t) for t in ref["texts"]])
    cos = np.sum(ours * ref["vectors"], axis=1)
    assert cos.min() >= 0.9999, cos
    assert np.abs(ours - ref["vectors"]).max() < 1e-4


def test_long_text_is_truncated_not_an_error(emb: MiniLMEmbedder) -> None:
    v = emb.embed(["word " * 2000])
    assert v.shape == (1, 384) and np.isfinite(v).all()


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="missing"):
        MiniLMEmbedder(tmp_path).embed(["x"])


def test_concurrent_embeds_restore_blas_threads(emb: MiniLMEmbedder) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import threading

    def blas() -> list[int]:
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas()
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(emb.embed(["bees"] * 40))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.array_equal(r, results[0]) for r in results)
    assert blas() == before
