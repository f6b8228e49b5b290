"""The ``diffusion`` backend, without downloading weights: a tiny randomly initialised Stable Diffusion
pipeline is built and saved here, then driven through the real code path (``reelforge make --images
diffusion --image-model DIR``), as diffusers' own tests do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import ConfigError, VisualsError
from reelforge.models import ImageRequest, Scene
from reelforge.visuals.diffusion import (
    DiffusionImages,
    family_defaults,
    fit,
    generation_size,
    scene_prompt,
    scene_seed,
)

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's byte-to-unicode table: every byte as one printable character."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def build_tiny_sd(path: Path) -> Path:
    """A randomly initialised, tiny Stable Diffusion pipeline saved with ``save_pretrained``."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=32,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
    )  # fmt: skip
    # a character-level CLIP BPE vocabulary (no merges): every byte, alone and word-final
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in _byte_chars():
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    tok_files = path.parent / f"{path.name}-tokenizer-src"
    tok_files.mkdir(parents=True, exist_ok=True)
    (tok_files / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tok_files / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(
        str(tok_files / "vocab.json"), str(tok_files / "merges.txt"), model_max_length=77
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
            num_attention_heads=4, num_hidden_layers=2, vocab_size=len(vocab), max_position_embeddings=77,
        )
    )  # fmt: skip
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", timestep_spacing="trailing",
        steps_offset=1,
    )  # fmt: skip
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


def request(
    i: int = 0, visual: str = "a honey bee on a flower", width: int = 368, height: int = 208
) -> ImageRequest:
    scene = Scene(index=i, narration="Bees.", visual=visual, keywords=("bees", "nectar"), duration=5.0)
    return ImageRequest(scene=scene, title="Bees", style="calm", width=width, height=height, seed=0)


# ---- pure helpers ---------------------------------------------------------------------------------


def test_family_defaults() -> None:
    assert family_defaults("stabilityai/sd-turbo") == (1, 0.0)
    assert family_defaults("stabilityai/sdxl-turbo") == (1, 0.0)
    assert family_defaults("latent-consistency/lcm-lora-sdv1-5") == (4, 1.0)
    assert family_defaults("ByteDance/SDXL-Lightning") == (4, 0.0)
    assert family_defaults("runwayml/stable-diffusion-v1-5") == (25, 7.0)
    assert family_defaults("/models/x", {"scheduler_class": "LCMScheduler"}) == (4, 1.0)


def test_generation_size_keeps_area_and_aspect() -> None:
    w, h = generation_size(2208, 1242, 512, 64)
    assert (w % 64, h % 64) == (0, 0)
    assert abs(w / h - 16 / 9) < 0.2 and 0.8 < w * h / 512**2 < 1.25
    w, h = generation_size(1242, 2208, 1024, 64)
    assert h > w and (w % 64, h % 64) == (0, 0)
    assert generation_size(828, 828, 512, 64) == (512, 512)


def test_fit_covers_and_crops_exactly() -> None:
    img = Image.new("RGB", (704, 384), (10, 200, 30))
    for size in ((2208, 1242), (1242, 2208), (333, 187)):
        out = fit(img, *size)
        assert out.size == size and out.mode == "RGB"
        assert out.getpixel((size[0] // 2, size[1] // 2)) == (10, 200, 30)


def test_prompt_and_seed() -> None:
    p = scene_prompt(request())
    assert p.startswith("a honey bee on a flower") and "nectar" in p and "wide" in p and "pastel" in p
    assert "vertical" in scene_prompt(request(width=208, height=368))
    assert scene_seed(request(0)) != scene_seed(request(1))
    assert scene_seed(request(0)) == scene_seed(request(0))


def test_identity_is_what_changes_the_pictures() -> None:
    a = DiffusionImages({"model": "x/y", "batch_size": 1, "device": "cpu"}).identity()
    b = DiffusionImages({"model": "x/y", "batch_size": 8}).identity()
    assert a == b
    assert DiffusionImages({"model": "x/z"}).identity() != a
    with pytest.raises(ConfigError):
        DiffusionImages({"steps": 0})


# ---- no weights: clear errors, no hanging -----------------------------------------------------------


def test_missing_local_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VisualsError, match="does not exist"):
        DiffusionImages({"model": str(tmp_path / "nope")}).execute(request(), tmp_path / "x.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VisualsError, match="not a diffusers model folder"):
        DiffusionImages({"model": str(tmp_path / "empty")}).execute(request(), tmp_path / "x.png")


def test_offline_hub_id_not_cached_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without network: fail fast, no download
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(VisualsError, match="cannot be reached"):
        DiffusionImages({"model": "reelforge-tests/no-such-model"}).execute(request(), tmp_path / "x.png")


# ---- the real code path on a tiny model -------------------------------------------------------------


def test_batch_equals_single_and_sizes_are_exact(tiny_sd: Path, tmp_path: Path) -> None:
    backend = DiffusionImages({"model": str(tiny_sd), "steps": 2, "cpu_threads": 1})
    reqs = [request(0), request(1, "a jar of honey"), request(2, "a hive", width=333, height=187)]
    outs = [tmp_path / f"b{i}.png" for i in range(3)]
    visuals = backend.execute_batch(reqs, outs)
    for r, v, o in zip(reqs, visuals, outs, strict=True):
        assert (v.index, v.path, v.width, v.height) == (r.scene.index, o, r.width, r.height)
        assert v.credits and "tiny-sd" in v.credits[0] and str(tiny_sd.parent) not in v.credits[0]
        with Image.open(o) as im:
            assert im.format == "PNG" and im.size == (r.width, r.height) and im.mode == "RGB"
    single = tmp_path / "single.png"
    backend.execute(reqs[1], single)  # same seed per scene, alone or in a batch: same picture
    a = np.asarray(Image.open(single), dtype=np.float32)
    b = np.asarray(Image.open(outs[1]), dtype=np.float32)
    assert np.abs(a - b).mean() < 1.0
    assert np.abs(a - np.asarray(Image.open(outs[0]), dtype=np.float32)).mean() > 1.0  # scenes differ


@pytest.mark.slow
def test_make_with_image_model_end_to_end(tiny_sd: Path, tmp_path: Path) -> None:
    """`reelforge make --images diffusion --image-model DIR`: the stills are the model's, at the overscan
    size, used in the video, and cached (a second run draws nothing)."""
    cache = tmp_path / "cache"
    out = tmp_path / "bees.mp4"
    env = dict(os.environ, REELFORGE_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "reelforge", "make", "how bees make honey", "-d", "8", "--resolution",
           "480p", "--images", "diffusion", "--image-model", str(tiny_sd), "--no-music", "-o", str(out)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.exists()
    config = json.loads(out.with_suffix(".config.json").read_text())
    assert config["backends"]["visuals"] == "diffusion"
    assert config["settings"]["options"]["diffusion"]["model"] == str(tiny_sd)
    assert "diffusers" in out.with_suffix(".credits.txt").read_text()
    stills = sorted(cache.glob("visuals/*/*/image.png"))
    storyboard = json.loads(out.with_suffix(".storyboard.json").read_text())
    assert len(stills) == len(storyboard["scenes"])
    for still in stills:
        with Image.open(still) as im:
            assert im.size == (982, 552)  # 854x480 with the Ken Burns overscan

    # the second run reuses every still: nothing is drawn (the model is not even loaded)
    from reelforge.config import load_settings
    from reelforge.models import Request
    from reelforge.pipeline import Pipeline

    settings = load_settings(None, cache_dir=cache, images="diffusion", no_music=True,
                             options={"diffusion": {"model": str(tiny_sd)}})  # fmt: skip
    req = Request(prompt="how bees make honey", duration=8, resolution="480p")
    res = Pipeline(settings).make(req, tmp_path / "again.mp4", keep_work=True)
    assert res.cache["visuals"] == {"hits": len(stills), "misses": 0}
    # and the video shows them: each scene's frames follow its own still more than the others'
    from mediatools import frame_at

    timeline = json.loads((tmp_path / "again.work" / "timeline.json").read_text())
    scenes = [s for s in timeline["segments"] if s["kind"] == "scene"]

    def grid(a: np.ndarray) -> np.ndarray:
        g = np.asarray(Image.fromarray(a.astype(np.uint8)).convert("L").resize((16, 9)), dtype=np.float32)
        return (g - g.mean()) / (g.std() + 1e-6)

    for seg in scenes:
        t = (seg["start_frame"] + seg["frames"] / 2) / timeline["fps"]
        frame = grid(frame_at(res.video, t))
        own = grid(np.asarray(Image.open(seg["image"]).convert("RGB")))
        others = [grid(np.asarray(Image.open(s["image"]).convert("RGB"))) for s in scenes if s is not seg]
        corr_own = float((frame * own).mean())
        assert corr_own > 0.5
        assert all(corr_own > float((frame * o).mean()) for o in others)
