"""The ``diffusion`` image backend: any Hugging Face ``diffusers`` text-to-image pipeline.

``model`` is a local diffusers folder (``model_index.json`` inside) or a Hub id such as
``stabilityai/sd-turbo``. A Hub id is first looked up in the local Hugging Face cache; the network is used
only when that misses and the Hub answers within a few seconds (no hanging offline: the Hub is switched
to offline mode and the error says what to do).

On CUDA the pipeline runs in fp16 with PyTorch SDPA attention (or attention slicing on request) and VAE
tiling for large sizes; on a CPU it runs in fp32 (slow, but correct). Each process loads a model once and
keeps it warm. Scenes are drawn in batches (``execute_batch``, which the pipeline uses when present; every
still is still cached per scene), each with its own seed, at a size native to the model family and the
requested aspect ratio, then fitted (scaled to cover, centre-cropped) to the requested size.

Fast defaults per family: turbo/lightning/hyper/schnell models take 1-4 steps without guidance, LCM
takes 4 steps at guidance 1, everything else 25 steps at guidance 7.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse

from PIL import Image
from pydantic import Field

from ..backend import Backend, BackendOptions
from ..errors import VisualsError
from ..models import ImageRequest, SceneVisual
from .procedural import MAX_SIDE

DEFAULT_MODEL = "stabilityai/sd-turbo"
NEGATIVE = (
    "text, letters, watermark, logo, signature, caption, blurry, out of focus, low quality, jpeg artifacts, "
    "deformed, distorted, disfigured, extra limbs, bad anatomy, cropped, frame, border"
)
STYLE_PROMPTS: dict[str, str] = {
    "upbeat": "bright warm sunny colors, cheerful and energetic",
    "calm": "soft pastel blues and greens, calm and airy, gentle light",
    "dramatic": "dramatic chiaroscuro lighting, deep reds and near-black shadows, intense",
    "corporate": "clean modern look, navy and teal tones, professional",
    "ambient": "hazy muted purples, dreamy and atmospheric",
    "cinematic": "cinematic film still, teal and orange grade, shallow depth of field",
    "playful": "saturated candy colors, playful and fun",
}

_pipes: dict[tuple[str, str, str, bool], Any] = {}
_load_lock = threading.Lock()
_run_locks: dict[int, threading.Lock] = {}
_configs: dict[int, dict[str, Any]] = {}


def _new_dtype_kwarg() -> bool:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); use what this version wants."""
    try:
        from diffusers.utils import deprecation_utils

        return hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE")
    except ImportError:
        return False


def family_defaults(model: str, config: dict[str, Any] | None = None) -> tuple[int, float]:
    """``(steps, guidance)`` for a model, from its name (and its scheduler config, when known)."""
    name = model.lower()
    sched = (config or {}).get("scheduler_class", "").lower()
    if "lcm" in name or "lcm" in sched:
        return 4, 1.0
    if "turbo" in name:
        return 1, 0.0
    if any(k in name for k in ("lightning", "hyper", "schnell", "flash")):
        return 4, 0.0
    return 25, 7.0


def native_size(model: str, pipe: Any) -> int:
    """The square side a model was trained at (the generation area follows it)."""
    name = model.lower()
    if "sdxl-turbo" in name or "sd-turbo" in name:
        return 512
    vae_scale = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    for part in ("unet", "transformer"):
        module = getattr(pipe, part, None)
        sample = getattr(getattr(module, "config", None), "sample_size", None)
        if isinstance(sample, int) and sample > 0:
            return int(sample * vae_scale)
    default = getattr(pipe, "default_sample_size", None)
    if isinstance(default, int) and default > 0:
        return int(default * vae_scale)
    return 512


def generation_size(width: int, height: int, native: int, multiple: int) -> tuple[int, int]:
    """About ``native``² pixels at the aspect of ``width`` x ``height``, both sides a multiple of ``multiple``."""
    aspect = width / height
    gw = (native * native * aspect) ** 0.5
    gh = gw / aspect
    rw = max(multiple, round(gw / multiple) * multiple)
    rh = max(multiple, round(gh / multiple) * multiple)
    return int(rw), int(rh)


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover ``width`` x ``height`` (Lanczos), then centre-crop to exactly that size."""
    image = image.convert("RGB")
    scale = max(width / image.width, height / image.height)
    w, h = max(width, round(image.width * scale)), max(height, round(image.height * scale))
    image = image.resize((w, h), Image.Resampling.LANCZOS)
    left, top = (w - width) // 2, (h - height) // 2
    return image.crop((left, top, left + width, top + height))


def scene_prompt(request: ImageRequest) -> str:
    """The text prompt: the scene's visual description, its keywords, the style and the framing."""
    scene = request.scene
    ratio = request.width / request.height
    framing = (
        "wide landscape composition" if ratio > 1.2 else "tall vertical composition" if ratio < 0.83 else
        "centered square composition"
    )  # fmt: skip
    parts = [scene.visual.rstrip(". ")]
    extra = [k for k in scene.keywords if k.lower() not in scene.visual.lower()]
    if extra:
        parts.append(", ".join(extra[:4]))
    parts += [STYLE_PROMPTS.get(request.style, ""), framing, "high quality, detailed"]
    return ", ".join(p for p in parts if p)


def scene_seed(request: ImageRequest) -> int:
    key = f"reelforge.diffusion/1\x1f{request.seed}\x1f{request.scene.index}\x1f{request.scene.visual}"
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") & 0x7FFFFFFF


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", ".\\")) or os.sep in model.strip("/").replace("/", "", 1)


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        from huggingface_hub import constants

        endpoint = str(getattr(constants, "ENDPOINT", "https://huggingface.co"))
    except Exception:
        endpoint = "https://huggingface.co"
    url = urlparse(endpoint)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


class DiffusionImages(Backend):
    """Text-to-image with Hugging Face diffusers (Stable Diffusion, SDXL, SD-Turbo, ...)."""

    name: ClassVar[str] = "diffusion"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Stable Diffusion & co. via Hugging Face diffusers (GPU recommended); --image-model picks the model"
    )

    class Options(BackendOptions):
        #: a local diffusers folder or a Hub id
        model: str = DEFAULT_MODEL
        #: denoising steps; default: the model family's fast setting
        steps: Annotated[int | None, Field(ge=1, le=150)] = None
        #: classifier-free guidance scale; default: the model family's setting (0 for turbo models)
        guidance: Annotated[float | None, Field(ge=0.0, le=30.0)] = None
        negative_prompt: Annotated[str, Field(max_length=1000)] = NEGATIVE
        #: the square side the model generates around (area); default: detected from the model
        native_size: Annotated[int | None, Field(ge=64, le=2048)] = None
        device: Literal["auto", "cuda", "cpu", "mps"] = "auto"
        dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
        #: scenes per pipeline call
        batch_size: Annotated[int, Field(ge=1, le=32)] = 4
        #: trade speed for memory on small GPUs (PyTorch SDPA attention is used otherwise)
        attention_slicing: bool = False
        #: PyTorch CPU threads when running on the CPU (default: PyTorch's choice)
        cpu_threads: Annotated[int | None, Field(ge=1, le=256)] = None
        #: PNG zlib level
        compress_level: Annotated[int, Field(ge=0, le=9)] = 1

    options: Options

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        for k in ("device", "batch_size", "attention_slicing", "cpu_threads", "compress_level"):
            ident["options"].pop(k, None)  # how, not what: the same pictures either way
        return ident

    # -- loading ----------------------------------------------------------------------------------

    def _torch(self) -> Any:
        try:
            import diffusers  # noqa: F401
            import torch
        except ImportError as exc:
            raise VisualsError(
                f"the diffusion backend needs {exc.name or 'torch and diffusers'}",
                hint="pip install 'reelforge[diffusion]' torch (make install does this)",
            ) from None
        return torch

    def _device_dtype(self, torch: Any) -> tuple[str, Any]:
        device = self.options.device
        if device == "auto":
            if torch.cuda.is_available():
                device = "cuda"
            elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
                device = "mps"
            else:
                device = "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise VisualsError("device 'cuda' was asked for but PyTorch sees no CUDA GPU",
                               hint="use device = 'auto' or install a CUDA build of torch")  # fmt: skip
        name = self.options.dtype
        if name == "auto":
            name = "float16" if device in ("cuda", "mps") else "float32"
        return device, getattr(torch, name)

    def _source(self) -> tuple[str, bool]:
        """``(where to load from, local_files_only)``; raises when neither a folder nor the Hub can help."""
        model = self.options.model.strip()
        path = Path(model).expanduser()
        if path.exists():
            if not (path / "model_index.json").is_file():
                raise VisualsError(
                    f"'{model}' is not a diffusers model folder (no model_index.json)",
                    hint="give a folder saved with pipeline.save_pretrained() or a Hub id",
                )
            return str(path.resolve()), True
        if _looks_like_path(model):
            raise VisualsError(f"the image model folder '{model}' does not exist")
        return model, False

    def pipeline(self) -> Any:
        """The loaded pipeline (process-wide, kept warm)."""
        torch = self._torch()
        device, dtype = self._device_dtype(torch)
        source, local = self._source()
        key = (source, device, str(dtype), self.options.attention_slicing)
        with _load_lock:
            pipe = _pipes.get(key)
            if pipe is None:
                pipe = self._load(torch, source, local, device, dtype)
                _pipes[key] = pipe
                _run_locks[id(pipe)] = threading.Lock()
            return pipe

    def _load(self, torch: Any, source: str, local: bool, device: str, dtype: Any) -> Any:
        # untyped libraries: used through Any. Quiet: no optional-dependency notices on the user's terminal
        try:
            transformers: Any = importlib.import_module("transformers")
            transformers.logging.set_verbosity_error()
        except Exception:
            pass
        diffusers: Any = importlib.import_module("diffusers")
        diffusers.logging.set_verbosity_error()
        AutoPipelineForText2Image, DiffusionPipeline = (
            diffusers.AutoPipelineForText2Image,
            diffusers.DiffusionPipeline,
        )
        dtype_arg = "dtype" if _new_dtype_kwarg() else "torch_dtype"

        def load(local_only: bool) -> Any:
            kwargs: dict[str, Any] = {dtype_arg: dtype, "local_files_only": local_only}
            if dtype == torch.float16 and not local:
                kwargs["variant"] = "fp16"  # half the download where the repo has it
            try:
                return AutoPipelineForText2Image.from_pretrained(source, **kwargs)
            except ValueError as exc:  # a fp16 variant that is not there, or a non-standard pipeline
                if "variant" in kwargs and "variant" in str(exc):
                    kwargs.pop("variant")
                    return AutoPipelineForText2Image.from_pretrained(source, **kwargs)
                return DiffusionPipeline.from_pretrained(source, **kwargs)

        try:
            if local:
                pipe = load(True)
            else:
                try:
                    pipe = load(True)  # the local Hugging Face cache first: no network needed
                except Exception:
                    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
                    if offline or not _hub_reachable():
                        os.environ["HF_HUB_OFFLINE"] = "1"  # never hang on the network later either
                        raise VisualsError(
                            f"the image model '{source}' is not on this machine and the Hugging Face Hub "
                            "cannot be reached",
                            hint="download it once when online, or pass --image-model /path/to/diffusers-folder",
                        ) from None
                    pipe = load(False)
        except VisualsError:
            raise
        except Exception as exc:
            raise VisualsError(f"could not load the image model '{source}': {exc}") from None
        if not callable(pipe) or not hasattr(pipe, "to"):
            raise VisualsError(f"'{source}' is not a text-to-image pipeline")
        pipe = pipe.to(device)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        if device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            if self.options.attention_slicing and hasattr(pipe, "enable_attention_slicing"):
                pipe.enable_attention_slicing()
            # otherwise diffusers uses PyTorch 2 scaled-dot-product attention (flash / memory-efficient)
        _configs[id(pipe)] = self._model_config(source)
        return pipe

    @staticmethod
    def _model_config(source: str) -> dict[str, Any]:
        path = Path(source)
        out: dict[str, Any] = {}
        try:
            index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
            out["pipeline_class"] = index.get("_class_name", "")
            sched = index.get("scheduler")
            if isinstance(sched, list) and len(sched) == 2:
                out["scheduler_class"] = str(sched[1])
        except (OSError, ValueError):
            pass
        return out

    # -- drawing ----------------------------------------------------------------------------------

    def _check(self, request: ImageRequest) -> None:
        w, h = request.width, request.height
        if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
            raise VisualsError(
                f"cannot draw a {w}x{h} image for scene {request.scene.index}",
                hint=f"each side must be 16 to {MAX_SIDE} pixels",
            )

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual:
        return self.execute_batch([request], [out_path])[0]

    def execute_batch(self, requests: Sequence[ImageRequest], out_paths: Sequence[Path]) -> list[SceneVisual]:
        """Draw every request (in batches of ``batch_size``), each saved as PNG at its exact size."""
        if len(requests) != len(out_paths):
            raise ValueError("one output path per request")
        for r in requests:
            self._check(r)
        if not requests:
            return []
        torch = self._torch()
        pipe = self.pipeline()
        config = _configs.get(id(pipe), {})
        if self.options.cpu_threads and str(getattr(pipe, "device", "cpu")) == "cpu":
            torch.set_num_threads(self.options.cpu_threads)
        steps, guidance = family_defaults(self.options.model, config)
        steps = self.options.steps or steps
        guidance = self.options.guidance if self.options.guidance is not None else guidance
        native = self.options.native_size or native_size(self.options.model, pipe)
        multiple = 8 * int(getattr(pipe, "vae_scale_factor", 8) or 8)
        device = str(getattr(pipe, "device", "cpu"))
        # group by generation size (all scenes of one video share it), then batch
        groups: dict[tuple[int, int], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(generation_size(r.width, r.height, native, multiple), []).append(i)
        results: list[SceneVisual | None] = [None] * len(requests)
        lock = _run_locks.setdefault(id(pipe), threading.Lock())
        model = self.options.model.strip()
        label = Path(model).name if Path(model).expanduser().exists() else model  # no local paths in credits
        credit = f"Images: generated with {label} (Hugging Face diffusers)"
        for (gw, gh), idx in groups.items():
            if device.startswith("cuda") and max(gw, gh) > 1024 and hasattr(pipe, "vae"):
                pipe.vae.enable_tiling()  # big latents: decode in tiles
            for start in range(0, len(idx), self.options.batch_size):
                chunk = idx[start : start + self.options.batch_size]
                prompts = [scene_prompt(requests[i]) for i in chunk]
                gens = [torch.Generator(device="cpu").manual_seed(scene_seed(requests[i])) for i in chunk]
                kwargs: dict[str, Any] = {
                    "prompt": prompts, "num_inference_steps": steps, "guidance_scale": guidance,
                    "width": gw, "height": gh, "generator": gens, "output_type": "pil",
                }  # fmt: skip
                if guidance > 1.0:
                    kwargs["negative_prompt"] = [self.options.negative_prompt] * len(chunk)
                try:
                    with lock, torch.inference_mode():
                        images = pipe(**kwargs).images
                except Exception as exc:
                    raise VisualsError(
                        f"the diffusion model failed on scenes {[i + 1 for i in chunk]}: {exc}"
                    ) from None
                for i, image in zip(chunk, images, strict=True):
                    req = requests[i]
                    fitted = fit(image, req.width, req.height)
                    try:
                        fitted.save(out_paths[i], format="PNG", compress_level=self.options.compress_level)
                    except OSError as exc:
                        raise VisualsError(
                            f"could not write the image for scene {req.scene.index} to {out_paths[i]}: {exc}"
                        ) from None
                    results[i] = SceneVisual(index=req.scene.index, path=Path(out_paths[i]), width=req.width,
                                             height=req.height, credits=(credit,))  # fmt: skip
        return [r for r in results if r is not None]
