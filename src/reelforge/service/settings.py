"""Service settings: the ``[service]`` table of the config file (``Settings.service``).

Only pydantic here, so the core configuration can include it without the service extra installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


def default_artifact_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelforge" / "jobs"


class ApiToken(BaseModel):
    """A bearer token and what its holder may do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    token: Annotated[SecretStr, Field(min_length=16)]
    max_concurrent: Annotated[int, Field(ge=1, le=1000)] = 2  # queued + running jobs at once
    max_duration: Annotated[float, Field(ge=5, le=1800)] = 600.0  # seconds of video per job


class ServiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: where each job's files live (``<artifact_dir>/<job id>/``); share it between the API and workers
    artifact_dir: Path = Field(default_factory=default_artifact_dir)
    #: the SQLite job store; default ``<artifact_dir>/jobs.sqlite3``
    database: Path | None = None
    #: the job store in PostgreSQL instead (API and workers on several machines): ``postgresql://user:pw@host/db``
    database_url: SecretStr | None = None
    #: the jobs' files and the stage cache shared through S3-compatible storage: ``s3://bucket/prefix``
    storage_url: Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,62}(/.*)?$")] | None = None
    #: the store's endpoint (MinIO, Ceph...; unset: AWS); keys: here or the AWS_* environment variables
    storage_endpoint: str | None = None
    storage_region: str | None = None
    storage_access_key: SecretStr | None = None
    storage_secret_key: SecretStr | None = None
    #: with a storage_url, each machine keeps at most this much of the stage cache locally, and the API as much
    #: of its copies of the jobs' files (least recently used entries go first)
    local_cache_max_bytes: Annotated[int, Field(ge=64 * 1024**2)] = 10 * 1024**3
    #: with a storage_url, the API answers a file it does not have with a 307 to a presigned URL of the store
    #: (the browser must reach the store) instead of streaming it through itself
    presign: bool = False
    executor: Literal["local", "celery"] = "local"
    #: concurrent jobs of the local executor
    local_workers: Annotated[int, Field(ge=1, le=16)] = 1
    #: Celery broker and result backend (secrets: they may hold a password; redacted in dumps)
    broker_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    result_backend: SecretStr | None = None  # default: the broker
    #: visuals backends whose jobs go to the ``gpu`` queue (all others go to ``cpu``)
    gpu_backends: tuple[str, ...] = ("diffusion",)
    #: a running job whose worker has not reported for this long is handed to another worker
    lease_seconds: Annotated[float, Field(ge=1, le=3600)] = 30.0
    heartbeat_seconds: Annotated[float, Field(gt=0, le=600)] = 2.0
    #: Redis visibility timeout: an unacknowledged task is delivered again after this long
    visibility_timeout: Annotated[int, Field(ge=1)] = 3600
    #: Celery: each scene of a job is spoken, drawn and rendered by any worker (``reelforge.scene`` tasks);
    #: ``auto``: when the stage cache is shared through object storage (``storage_url``)
    scene_fanout: Literal["auto", "on", "off"] = "auto"
    #: a scene task not started within this long (every worker busy) is done by the job's own worker
    scene_grace: Annotated[float, Field(gt=0, le=3600)] = 2.0
    #: nor one not finished within this long (its worker died)
    scene_timeout: Annotated[float, Field(gt=0, le=86400)] = 300.0

    tokens: tuple[ApiToken, ...] = ()
    #: "auto": tokens are required unless the server is bound to a loopback address
    require_auth: Literal["auto", "always", "never"] = "auto"
    #: limits for requests without a token (allowed only when auth is not required)
    anonymous_max_concurrent: Annotated[int, Field(ge=1, le=1000)] = 4
    anonymous_max_duration: Annotated[float, Field(ge=5, le=1800)] = 1800.0
    #: largest JSON body accepted (POST / PATCH), bytes
    max_body: Annotated[int, Field(ge=1024, le=10_000_000)] = 256 * 1024
    #: largest video a browser may upload as its own render of a job (``PUT .../client-render``), bytes
    max_upload: Annotated[int, Field(ge=64 * 1024, le=16 * 1024**3)] = 1024**3

    def database_path(self) -> Path:
        return self.database or self.artifact_dir / "jobs.sqlite3"
