"""Online stock-footage sources (``pexels.py``, ``pixabay.py``): what they share.

* :class:`Candidate` - one video a source offers, in the same shape whatever the source: the file to
  download (the largest MP4 whose short side is at most 1080 px), its size and length, the words that
  describe it (tags, alt text, the words of its page URL) and the attribution the source asks for.
* :class:`HttpSource` - plain ``urllib`` with bounded retries: every request has a timeout; HTTP 429, 5xx,
  timeouts and refused connections are retried with exponential backoff (a ``Retry-After`` up to
  ``max_wait`` is honoured), then reported as :class:`SourceUnavailable`; a refused key (401/403) is a
  :class:`SourceAuthError` at once, naming the variable to fix. After a source has failed this way, its
  later requests in the same run fail at once instead of waiting through the retries again. The API key
  never appears in a message, a log line or a cache key.
* :func:`fetch` - ``reelforge library fetch``: search, download into the library's ``media/<source>/``
  folder with a JSON sidecar (captions, tags, credit), index.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import Field

from ..backend import Backend, BackendOptions
from ..errors import InputError, ReelforgeError
from .describe import url_slug_words
from .library import AddReport, Library

log = logging.getLogger("reelforge.library")

MAX_SHORT_SIDE = 1080
MAX_DOWNLOAD = 1 << 30  # bytes
MAX_JSON = 20_000_000  # bytes


class SourceError(ReelforgeError):
    """An online source could not answer (the base class: a request it rejected, an answer not JSON)."""

    kind = "source"


class SourceAuthError(SourceError):
    """The source refused the API key: a configuration to fix, not an outage."""


class SourceUnavailable(SourceError):
    """Down, too slow, rate limited (429) or failing (5xx) after the bounded retries."""


def offline() -> bool:
    """``REELFORGE_OFFLINE=1`` keeps every online source off the network."""
    return os.environ.get("REELFORGE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def orientation_of(width: int, height: int) -> str:
    if width > height * 1.05:
        return "landscape"
    if height > width * 1.05:
        return "portrait"
    return "square"


@dataclass(frozen=True)
class Candidate:
    """One video an online source offers, with the file reelforge would download."""

    source: str  # "pexels", "pixabay"
    id: str
    url: str  # its page on the source's site
    link: str  # the file to download ("" when none is small enough)
    width: int  # of that file
    height: int
    duration: float  # seconds
    author: str
    credit: str
    captions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    query: str = ""  # the search that found it

    @property
    def key(self) -> str:
        return f"{self.source}:{self.id}"

    @property
    def text(self) -> str:
        """What it shows, in words (for ranking against a scene)."""
        parts = [*self.captions, ", ".join(self.tags)]
        return ". ".join(p for p in dict.fromkeys(" ".join(x.split()) for x in parts) if p)

    def file_name(self) -> str:
        vid = re.sub(r"[^0-9A-Za-z]", "", self.id)[:20] or "x"
        slug = re.sub(r"[^a-z0-9]+", "-", url_slug_words(self.url).lower()).strip("-")[:60]
        return f"{vid}-{slug}.mp4" if slug else f"{vid}.mp4"

    def sidecar(self) -> dict[str, Any]:
        """The JSON written beside the download: what the library's text embedder reads, and the credit."""
        tags = [*self.tags, *([self.query] if self.query else [])]
        return {"caption": list(dict.fromkeys(c for c in self.captions if c)), "tags": list(dict.fromkeys(tags)),
                "source": {"site": self.source, "id": self.id, "url": self.url, "author": self.author,
                           "credit": self.credit}}  # fmt: skip


class StockSource(Protocol):
    """An online source of stock footage: search it, download what it found."""

    name: ClassVar[str]
    #: the environment variable holding the key (named in errors)
    key_env: ClassVar[str]

    @property
    def available(self) -> bool:
        """Whether it has a key (a search without one is refused)."""
        ...

    def identity(self) -> dict[str, Any]: ...

    def search(self, query: str, n: int | None = None, *, orientation: str | None = None) -> list[Candidate]:
        """Up to ``n`` videos for ``query`` (``orientation``: landscape, portrait or square, if it filters)."""
        ...

    def download(self, candidate: Candidate, dest: Path) -> None: ...


class SourceOptions(BackendOptions):
    #: the key (default: the source's environment variable, e.g. ``PEXELS_API_KEY``)
    api_key: str | None = None
    #: the API's address (default: the source's own, or e.g. ``PEXELS_BASE_URL``); tests use a fake server
    base_url: str | None = None
    timeout: Annotated[float, Field(gt=0, le=600)] = 20.0  # seconds per request (per socket operation)
    attempts: Annotated[int, Field(ge=1, le=10)] = 3  # tries per request (429, 5xx, timeouts, refused)
    backoff: Annotated[float, Field(ge=0, le=60)] = 1.0  # seconds before the first retry; doubles
    max_wait: Annotated[float, Field(ge=0, le=600)] = 30.0  # longest Retry-After waited for
    per_page: Annotated[int, Field(ge=3, le=80)] = 15  # results asked for per search


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


class HttpSource(Backend):
    """The HTTP side every source shares: keys, retries, timeouts, downloads."""

    name: ClassVar[str] = "source"
    title: ClassVar[str] = "the source"
    key_env: ClassVar[str] = ""
    base_env: ClassVar[str] = ""
    default_base: ClassVar[str] = ""
    signup: ClassVar[str] = ""  # where to get a free key
    Options: ClassVar[type[BackendOptions]] = SourceOptions
    options: SourceOptions

    def __init__(
        self,
        options: BackendOptions | dict[str, Any] | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(options)
        self.api_key = (self.options.api_key or os.environ.get(self.key_env) or "").strip() or None
        base = self.options.base_url or os.environ.get(self.base_env) or self.default_base
        self.base_url = base.rstrip("/")
        self._sleep = sleep or time.sleep
        self._down: SourceError | None = None  # set once the source failed after its retries
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.api_key is not None

    def identity(self) -> dict[str, Any]:
        opts = self.options.model_dump(
            mode="json", exclude={"api_key", "timeout", "attempts", "backoff", "max_wait"}
        )
        opts["base_url"] = self.base_url
        return {"name": self.name, "version": self.version, "options": opts}

    # -- requests ---------------------------------------------------------------------------------

    def _safe(self, url: str) -> str:
        """``url`` without its query string (which may carry the key)."""
        return url.split("?", 1)[0]

    def auth_error(self, code: int, body: str) -> bool:
        """Whether an HTTP error means the key was refused (sources that answer 400 override this)."""
        return code in (401, 403)

    def refused(self, code: int) -> SourceAuthError:
        return SourceAuthError(f"{self.title} refused the API key (HTTP {code})",
                               hint=f"check {self.key_env}; a free key: {self.signup}")  # fmt: skip

    def _with_retries(
        self, url: str, headers: dict[str, str], read: Callable[[Any], Any], what: str, *, api: bool = True
    ) -> Any:
        """``read(response)`` of a GET, retried; ``api``: a failure marks the API down for this run (a
        file download's failure does not: files come from another host)."""
        with self._lock:
            if api and self._down is not None:
                raise self._down
        o = self.options
        last = ""
        for attempt in range(1, o.attempts + 1):
            wait: float | None = None
            try:
                req = urllib.request.Request(url, headers={"User-Agent": "reelforge", **headers})
                with urllib.request.urlopen(req, timeout=o.timeout) as r:
                    return read(r)
            except urllib.error.HTTPError as exc:
                try:
                    body = exc.read(2000).decode("utf-8", "replace")
                except Exception:
                    body = ""
                if self.auth_error(exc.code, body):
                    raise self.refused(exc.code) from None
                if exc.code != 429 and exc.code < 500:
                    raise SourceError(
                        f"{self.title} answered HTTP {exc.code} to {what} ({self._safe(url)})"
                    ) from None
                last = "rate limit reached (HTTP 429)" if exc.code == 429 else f"HTTP {exc.code}"
                wait = _retry_after(exc.headers)
                if wait is not None and wait > o.max_wait:
                    last += f", asked to wait {wait:.0f} s"
                    break
            except SourceError:
                raise
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                last = f"cannot reach {self._safe(url)}: {reason}"
            if attempt < o.attempts:
                delay = wait if wait is not None else o.backoff * 2 ** (attempt - 1)
                log.info("%s: %s for %s; retrying in %.1f s (attempt %d of %d)", self.title, last, what, delay,
                         attempt + 1, o.attempts)  # fmt: skip
                self._sleep(delay)
        err = SourceUnavailable(f"{self.title}: {last} ({what}, {o.attempts} attempts)")
        if api:
            with self._lock:
                self._down = err
        raise err

    def get_json(self, url: str, headers: dict[str, str] | None = None, what: str = "a search") -> Any:
        def read(r: Any) -> Any:
            raw = r.read(MAX_JSON)
            try:
                return json.loads(raw.decode("utf-8"))
            except ValueError:
                raise SourceError(
                    f"{self.title} sent something that is not JSON ({self._safe(url)})"
                ) from None

        return self._with_retries(url, headers or {}, read, what)

    def download(self, candidate: Candidate, dest: Path) -> None:
        """Download the candidate's file to ``dest`` (atomically: a ``.part`` file renamed when complete)."""
        if not candidate.link.startswith(("http://", "https://")):
            raise SourceError(f"{self.title} video {candidate.id} has no MP4 file up to {MAX_SHORT_SIDE}p")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")

        def read(r: Any) -> None:
            got = 0
            with tmp.open("wb") as fh:
                while chunk := r.read(1 << 20):
                    got += len(chunk)
                    if got > MAX_DOWNLOAD:
                        raise SourceError(
                            f"{self._safe(candidate.link)} is larger than {MAX_DOWNLOAD >> 20} MB"
                        )
                    fh.write(chunk)
            if got == 0:
                raise SourceError(f"{self._safe(candidate.link)} is empty")
            os.replace(tmp, dest)

        try:
            self._with_retries(candidate.link, {}, read, f"the download of video {candidate.id}", api=False)
        finally:
            tmp.unlink(missing_ok=True)

    def search(self, query: str, n: int | None = None, *, orientation: str | None = None) -> list[Candidate]:
        raise NotImplementedError


# ---- reelforge library fetch ----------------------------------------------------------------------


@dataclass
class FetchReport:
    downloaded: list[Path] = field(default_factory=list)
    present: list[Path] = field(default_factory=list)  # fetched before: not downloaded again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url or id, reason)
    added: AddReport = field(default_factory=AddReport)


def media_path(library: Library, candidate: Candidate) -> Path:
    return library.media_dir / candidate.source / candidate.file_name()


def write_sidecar(path: Path, candidate: Candidate) -> None:
    side = path.with_suffix(".json")
    side.write_text(json.dumps(candidate.sidecar(), indent=1, ensure_ascii=False), encoding="utf-8")


def fetch(
    library: Library,
    source: HttpSource,
    query: str,
    n: int = 10,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> FetchReport:
    """Search ``source`` for ``query``, download up to ``n`` videos into the library's media folder, index them."""
    query = " ".join(query.split())
    if not query:
        raise InputError("the search query is empty")
    if not 1 <= n <= 500:
        raise InputError(f"-n {n} is out of range: fetch 1 to 500 videos")
    if not source.available:
        raise InputError(f"{source.key_env} is not set", hint=f"get a free key at {source.signup}")
    found = source.search(query, n)
    report = FetchReport()
    for k, c in enumerate(found):
        dest = media_path(library, c)
        if progress:
            progress(k + 1, len(found), dest.name)
        if dest.is_file() and dest.stat().st_size > 0:
            report.present.append(dest)
        else:
            if not c.link:
                report.failed.append((c.id, f"no MP4 file up to {MAX_SHORT_SIDE}p"))
                continue
            try:
                source.download(c, dest)
            except SourceAuthError:
                raise
            except SourceError as exc:
                report.failed.append((c.link, exc.message))
                continue
            report.downloaded.append(dest)
        write_sidecar(dest, c)
    report.added = library.add(report.downloaded + report.present)
    return report


def make_source(name: str, options: dict[str, Any] | None = None) -> HttpSource:
    """The source called ``name`` (``pexels``, ``pixabay``) with these options."""
    if name == "pexels":
        from .pexels import PexelsSource

        return PexelsSource(options or {})
    if name == "pixabay":
        from .pixabay import PixabaySource

        return PixabaySource(options or {})
    raise InputError(f"unknown stock footage source '{name}'; available: {', '.join(SOURCES)}")


SOURCES = ("pexels", "pixabay")


def _query_string(params: dict[str, Any]) -> str:
    return urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
