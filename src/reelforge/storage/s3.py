"""An S3 bucket (or a prefix of one) through boto3: AWS, MinIO, Ceph, R2 and anything else that speaks S3.

Keys are content-addressed for the stage cache (``cache/<stage>/<key>.tar``: two workers writing the same key
write the same bytes) and per job for its files (``jobs/<id>/<name>``). Uploads go to the final key (S3 makes
an object visible only when its upload is complete), so a reader never sees half a file.

boto3 is imported on first use, so the core and the API without storage never load it. Retries and timeouts
are bounded (botocore ``Config``), and every failure becomes one line: ``StorageError`` (a missing bucket,
refused or missing keys: fix the configuration) or ``StorageUnavailable`` (no answer: worth another try).
"""

from __future__ import annotations

import mimetypes
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from ..errors import ConfigError, StorageError, StorageUnavailable
from .base import ObjectInfo, check_name

if TYPE_CHECKING:
    from ..service.settings import ServiceSettings

CHUNK = 1 << 20
KEYS_HINT = "set storage_access_key and storage_secret_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"


class S3Storage:
    def __init__(self, url: str, *, endpoint: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None) -> None:  # fmt: skip
        if not url.startswith("s3://") or len(url) <= 5:
            raise ConfigError(f"storage_url must look like s3://bucket/prefix, not {url!r}")
        bucket, _, prefix = url[5:].partition("/")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint
        # unset values are left out, so boto3 falls back to AWS_* variables, ~/.aws and instance roles
        self._args: dict[str, Any] = {"endpoint_url": endpoint, "region_name": region,
                                      "aws_access_key_id": access_key, "aws_secret_access_key": secret_key}  # fmt: skip
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, svc: ServiceSettings) -> S3Storage:
        def secret(v: Any) -> str | None:
            return v.get_secret_value() if v is not None else None

        assert svc.storage_url is not None
        return cls(svc.storage_url, endpoint=svc.storage_endpoint, region=svc.storage_region,
                   access_key=secret(svc.storage_access_key), secret_key=secret(svc.storage_secret_key))  # fmt: skip

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """One boto3 client for all threads (clients are thread-safe; making one costs tens of milliseconds)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError("object storage needs boto3", hint='pip install "reelforge[service]"') from None
        # path-style addressing: MinIO and most self-hosted stores have no per-bucket DNS names
        cfg = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                     max_pool_connections=32, s3={"addressing_style": "path"})  # fmt: skip
        args = {k: v for k, v in self._args.items() if v}
        if self.endpoint and "region_name" not in args and not _env_region():
            args["region_name"] = "us-east-1"  # what MinIO and most others expect in signatures
        return boto3.session.Session().client("s3", config=cfg, **args)

    def key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def _error(self, exc: BaseException, what: str) -> StorageError:
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            NoCredentialsError,
            PartialCredentialsError,
        )
        from botocore.exceptions import ConnectionError as BotoConnectionError

        where = self.url + (f" at {self.endpoint}" if self.endpoint else "")
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket" or (code == "404" and what == "open the bucket"):
                return StorageError(
                    f"the bucket of {where} does not exist", hint="create it, or fix storage_url"
                )
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
                return StorageError(
                    f"{where} refused the keys ({code}) while trying to {what}", hint=KEYS_HINT
                )
            if code in ("SlowDown", "ServiceUnavailable", "InternalError", "500", "502", "503", "504"):
                return StorageUnavailable(f"{where} is overloaded ({code}) while trying to {what}",
                                          hint="try again later")  # fmt: skip
            return StorageError(f"{where}: {what} failed ({code or exc})")
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return StorageError(f"no keys for {where}", hint=KEYS_HINT)
        if isinstance(exc, BotoConnectionError | ConnectionClosedError | ConnectionError | TimeoutError):
            return StorageUnavailable(f"{where} is unreachable while trying to {what}",
                                      hint="check storage_endpoint and that the store is running")  # fmt: skip
        return StorageUnavailable(f"{where}: {what} failed ({type(exc).__name__}: {exc})")

    # -- the store ------------------------------------------------------------------------------

    def check(self) -> None:
        """Fail early, in one line, when the bucket can't be used."""
        client = self.client
        try:
            client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self._error(exc, "open the bucket") from None

    def put_file(self, name: str, path: Path, content_type: str | None = None) -> None:
        content_type = content_type or mimetypes.guess_type(path.name)[0]
        extra = {"ContentType": content_type} if content_type else None
        key, client = self.key(name), self.client
        try:
            client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)
        except Exception as exc:
            raise self._error(exc, f"upload {name}") from None

    def put_bytes(self, name: str, data: bytes, content_type: str | None = None) -> None:
        key, client = self.key(name), self.client
        try:
            client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                   **({"ContentType": content_type} if content_type else {}))  # fmt: skip
        except Exception as exc:
            raise self._error(exc, f"upload {name}") from None

    def get_file(self, name: str, dest: Path) -> bool:
        # a name of its own: two threads fetching the same object must not write into one temporary file
        tmp = dest.with_name(f".{dest.name}.{uuid4().hex[:8]}.part")
        key, client = self.key(name), self.client
        try:
            client.download_file(self.bucket, key, str(tmp))
            tmp.replace(dest)
        except Exception as exc:
            if _missing(exc):
                return False
            raise self._error(exc, f"download {name}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def exists(self, name: str) -> bool:
        return self.stat(name) is not None

    def stat(self, name: str) -> ObjectInfo | None:
        key, client = self.key(name), self.client
        try:
            head = client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                return None
            raise self._error(exc, f"look up {name}") from None
        modified = head.get("LastModified")
        return ObjectInfo(int(head["ContentLength"]), str(head.get("ETag", "")).strip('"'),
                          modified.timestamp() if modified is not None else None)  # fmt: skip

    def read_range(self, name: str, start: int, end: int) -> Iterator[bytes]:
        key, client = self.key(name), self.client
        try:
            body = client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]
        except Exception as exc:
            raise self._error(exc, f"read {name}") from None
        try:
            while True:
                try:
                    chunk = body.read(CHUNK)
                except Exception as exc:
                    raise self._error(exc, f"read {name}") from None
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    def presign(
        self, name: str, expires: int = 3600, filename: str | None = None, content_type: str | None = None
    ) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.key(name)}
        client = self.client
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        if content_type:
            params["ResponseContentType"] = content_type
        try:
            url: str = client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        except Exception as exc:  # signing is local: only missing keys fail here
            raise self._error(exc, f"sign a URL for {name}") from None
        return url

    def delete_prefix(self, prefix: str) -> int:
        n, client = 0, self.client
        try:
            for keys in _batches(self._keys(prefix), 1000):  # DeleteObjects takes at most 1000
                client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys]})
                n += len(keys)
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, f"delete {prefix}") from None
        return n

    def list(self, prefix: str = "") -> Iterator[str]:
        for key in self._keys(prefix):
            yield key[len(self.prefix) :]

    def _keys(self, prefix: str) -> Iterator[str]:
        client = self.client
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix.lstrip("/")
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    yield str(obj["Key"])
        except Exception as exc:
            raise self._error(exc, f"list {prefix}") from None


def _batches(it: Iterator[str], n: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for x in it:
        batch.append(x)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _env_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _missing(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey")
