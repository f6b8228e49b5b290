"""The ``openai`` script writer: any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, LM Studio,
llama.cpp's server) through the ``openai`` SDK (``pip install 'reelforge[openai]'``).

Configuration: ``REELFORGE_LLM_BASE_URL`` (default: OpenAI), ``REELFORGE_LLM_API_KEY`` (or
``OPENAI_API_KEY``), ``REELFORGE_LLM_MODEL`` (default: ``gpt-4o-mini`` on OpenAI, else the endpoint's
first listed model) and ``REELFORGE_LLM_TIMEOUT``; the pipeline passes them in as options.

A capable model writes the whole storyboard in one structured call: JSON-schema output where the server
supports it, JSON mode where it rejects the schema (HTTP 400), plain text parsed as JSON as a last resort.
The reply goes through the same validators as the local writer; bad pieces are asked for again one by
one, then written by the template. Requests time out, and 429/5xx/timeouts are retried a bounded number
of times with exponential backoff; 401/403/404 stop at once with an error that says what to fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from ..backend import BackendOptions
from ..errors import LLMUnavailable, ScriptError
from ..models import Request, Storyboard
from .base import StoryPart, assemble
from .llm import (
    Ask,
    Draft,
    LLMOptions,
    LLMWriter,
    ScenePlan,
    parse_draft,
    storyboard_messages,
    storyboard_schema,
)

log = logging.getLogger("reelforge.script")

OPENAI_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
MAX_WAIT = 30.0  # never sleep longer than this between retries, whatever Retry-After says

Format = Literal["json_schema", "json_object", "text"]
_FORMATS: tuple[Format, ...] = ("json_schema", "json_object", "text")


class OpenAIOptions(LLMOptions):
    base_url: str | None = None  # e.g. http://localhost:11434/v1 (Ollama); default: OpenAI
    api_key: str | None = None
    model: str | None = None
    timeout: Annotated[float, Field(gt=0, le=600)] = 60.0  # seconds per request
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3  # after 429, 5xx and timeouts
    backoff: Annotated[float, Field(ge=0, le=60)] = 1.0  # seconds before the first retry; doubles
    #: one JSON call for the whole storyboard (else piece by piece, like the local writer)
    structured: bool = True
    #: what to ask for first: json_schema, json_object (JSON mode) or text
    response_format: Format = "json_schema"


def _status(exc: Exception) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = float(headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if isinstance(msg, str) and msg:
            return msg[:300]
    return str(getattr(exc, "message", "") or exc)[:300]


class OpenAIWriter(LLMWriter):
    """Storyboards from an OpenAI-compatible chat endpoint."""

    name: ClassVar[str] = "openai"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "any OpenAI-compatible chat endpoint (REELFORGE_LLM_BASE_URL / _API_KEY / _MODEL); "
        "one structured call, validated, per-piece fallback"
    )
    Options: ClassVar[type[BackendOptions]] = OpenAIOptions
    options: OpenAIOptions

    def __init__(self, options: BackendOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self._sdk_client: Any = None
        self._model: str | None = None
        self._format: Format = self.options.response_format

    # -- connection

    @property
    def endpoint(self) -> str:
        return (self.options.base_url or OPENAI_URL).rstrip("/")

    def _client(self) -> Any:
        if self._sdk_client is None:
            try:
                import openai
            except ImportError:
                raise ScriptError(
                    "the openai writer needs the openai package", hint="pip install 'reelforge[openai]'"
                ) from None
            o = self.options
            if not o.api_key and not o.base_url:
                raise ScriptError(
                    "the openai writer has no API key and no endpoint",
                    hint="set REELFORGE_LLM_API_KEY (or OPENAI_API_KEY), or REELFORGE_LLM_BASE_URL for a "
                    "local server",
                )
            # local servers (Ollama, llama.cpp) ignore the key, but the SDK wants one
            self._sdk_client = openai.OpenAI(
                api_key=o.api_key or "not-needed",
                base_url=o.base_url or None,
                timeout=o.timeout,
                max_retries=0,
            )
        return self._sdk_client

    def model_name(self) -> str:
        if self._model is None:
            if self.options.model:
                self._model = self.options.model
            elif not self.options.base_url:
                self._model = OPENAI_DEFAULT_MODEL
            else:
                try:
                    ids = [m.id for m in self._call(lambda c: c.models.list()).data]
                except ScriptError:
                    ids = []
                if not ids:
                    raise ScriptError(
                        f"no model given and {self.endpoint}/models lists none",
                        hint="set REELFORGE_LLM_MODEL (or --llm-model) to the endpoint's model name",
                    )
                self._model = str(ids[0])
                log.info(
                    "openai: no model given; using %s, the first one %s lists", self._model, self.endpoint
                )
        return self._model

    def model_identity(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "model": self.model_name()}

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        for secret_or_speed in ("api_key", "timeout", "max_retries", "backoff"):
            ident["options"].pop(secret_or_speed, None)
        return ident

    def _call(self, fn: Any) -> Any:
        """Run ``fn(client)`` with bounded retries on 429, 5xx, timeouts and dropped connections.

        400 (``BadRequestError``) is raised for the caller to handle; every other failure becomes a
        ``ScriptError`` that says what to fix."""
        import openai

        client = self._client()
        o = self.options
        tries = o.max_retries + 1
        last: Exception | None = None
        for attempt in range(tries):
            try:
                return fn(client)
            except openai.BadRequestError:
                raise
            except openai.AuthenticationError:
                raise ScriptError(
                    f"{self.endpoint} rejected the API key (HTTP 401)",
                    hint="set REELFORGE_LLM_API_KEY (or OPENAI_API_KEY) to a valid key for this endpoint",
                ) from None
            except openai.PermissionDeniedError as exc:
                raise ScriptError(
                    f"{self.endpoint} refused the request (HTTP 403): {_server_message(exc)}",
                    hint="check that the API key may use this model",
                ) from None
            except openai.NotFoundError:
                raise ScriptError(
                    f"{self.endpoint} has no model '{o.model or self._model or '?'}' or no chat endpoint "
                    "(HTTP 404)",
                    hint="check REELFORGE_LLM_MODEL, and REELFORGE_LLM_BASE_URL (it usually ends in /v1)",
                ) from None
            except (openai.RateLimitError, openai.APIConnectionError, openai.InternalServerError) as exc:
                last = exc
            except openai.APIStatusError as exc:
                code = _status(exc) or 0
                if code < 500:
                    raise ScriptError(
                        f"{self.endpoint} answered HTTP {code}: {_server_message(exc)}",
                        hint="check REELFORGE_LLM_BASE_URL and REELFORGE_LLM_MODEL",
                    ) from None
                last = exc
            if attempt + 1 < tries:
                wait = min(MAX_WAIT, max(o.backoff * 2**attempt, min(_retry_after(last) or 0.0, MAX_WAIT)))
                log.info(
                    "openai: %s; retrying in %.2f s (%d/%d)",
                    type(last).__name__,
                    wait,
                    attempt + 1,
                    o.max_retries,
                )
                time.sleep(wait)
        raise self._give_up(last, tries)

    def _give_up(self, exc: Exception | None, tries: int) -> LLMUnavailable:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return LLMUnavailable(
                f"{self.endpoint} did not answer within {self.options.timeout:g} s ({tries} tries)",
                hint="check the server, or raise REELFORGE_LLM_TIMEOUT",
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(
                f"cannot reach {self.endpoint} ({tries} tries): {exc}",
                hint="check REELFORGE_LLM_BASE_URL and that the server is running",
            )
        if isinstance(exc, openai.RateLimitError):
            return LLMUnavailable(
                f"{self.endpoint} is rate limiting (HTTP 429) after {tries} tries: {_server_message(exc)}",
                hint="wait and try again, or check the account's limits and credit",
            )
        code = _status(exc) if exc else None
        return LLMUnavailable(
            f"{self.endpoint} failed with HTTP {code} after {tries} tries: {_server_message(exc) if exc else ''}",
            hint="the server is having trouble; try again later or use --writer local",
        )

    def _chat(self, messages: list[dict[str, str]], max_tokens: int, temperature: float, seed: int,
              response_format: dict[str, Any] | None = None) -> str:  # fmt: skip
        kwargs: dict[str, Any] = {
            "model": self.model_name(),
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed,
        }
        if response_format is not None:
            kwargs["response_format"] = response_format
        reply = self._call(lambda c: c.chat.completions.create(**kwargs))
        try:
            content = reply.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            return ""
        return content if isinstance(content, str) else ""

    # -- writing

    def complete(self, ask: Ask) -> str:
        import openai

        try:
            return self._chat(ask.messages, ask.max_tokens, ask.temperature, ask.seed)
        except openai.BadRequestError as exc:
            raise ScriptError(
                f"{self.endpoint} rejected the request (HTTP 400): {_server_message(exc)}",
                hint="check REELFORGE_LLM_MODEL",
            ) from None

    def _structured(self, request: Request, plan: list[ScenePlan]) -> Draft | None:
        """The whole storyboard in one call; ``None`` when the reply is not usable JSON."""
        import openai

        messages = storyboard_messages(request.prompt, plan)
        max_tokens = min(16000, 200 + sum(2 * p.budget + 80 for p in plan))
        formats: dict[Format, dict[str, Any] | None] = {
            "json_schema": {
                "type": "json_schema",
                "json_schema": {"name": "storyboard", "strict": True, "schema": storyboard_schema()},
            },
            "json_object": {"type": "json_object"},
            "text": None,
        }
        while True:
            fmt = self._format
            rf = formats[fmt]
            try:
                content = self._chat(messages, max_tokens, self.options.temperature, request.seed, rf)
                break
            except openai.BadRequestError as exc:
                if fmt == "text":
                    raise ScriptError(
                        f"{self.endpoint} rejected the request (HTTP 400): {_server_message(exc)}",
                        hint="check REELFORGE_LLM_MODEL",
                    ) from None
                self._format = _FORMATS[_FORMATS.index(fmt) + 1]
                log.info("openai: %s rejected response_format %s (%s); trying %s", self.endpoint, fmt,
                         _server_message(exc), self._format)  # fmt: skip
        draft = parse_draft(content)
        if draft is None or not draft.scenes:
            log.info("openai: the storyboard reply was not usable JSON; writing it piece by piece")
            return None
        if len(draft.scenes) != len(plan):
            log.info("openai: the reply has %d scenes, the plan %d; missing ones are written one by one",
                     len(draft.scenes), len(plan))  # fmt: skip
        return draft

    def execute(self, request: Request) -> Storyboard:
        return assemble(request, self.stream(request))

    def stream(self, request: Request) -> Iterator[StoryPart]:
        """The whole storyboard in one structured call when the model can, its bad pieces asked for again
        one by one; streamed scene by scene as they pass the checks."""
        builder = self.builder(request)
        draft = self._structured(request, builder.plan) if self.options.structured else None
        yield from builder.stream(draft)
