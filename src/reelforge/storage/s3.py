"""An S3 bucket (or prefix of one) through boto3: put, get, ranged reads and presigned URLs.

Keys are content-addressed for the stage cache (``cache/<stage>/<key>.tar``: two workers writing the same
key write the same bytes) and per job for its files (``jobs/<id>/<name>``). Uploads go to the final key in
one request (S3 makes an object visible only when it is complete), so a reader never sees half a file.
Errors become one-line ``StoreError``s (bad keys, a missing bucket) or ``StoreUnavailable`` (no answer:
worth another try).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StoreError, StoreUnavailable
from ..service.settings import ServiceSettings

CHUNK = 1 << 20


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
        self._args: dict[str, Any] = {"endpoint_url": endpoint, "region_name": region or "us-east-1",
                                      "aws_access_key_id": access_key, "aws_secret_access_key": secret_key}  # fmt: skip
        self._local = threading.local()

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
        """One boto3 client per thread (clients are thread-safe, sessions are not; this keeps it simple)."""
        c = getattr(self._local, "client", None)
        if c is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ConfigError(
                    "object storage needs boto3", hint='pip install "reelforge[service]"'
                ) from None
            cfg = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                         s3={"addressing_style": "path"})  # fmt: skip
            c = boto3.session.Session().client("s3", config=cfg, **{k: v for k, v in self._args.items() if v})
            self._local.client = c
        return c

    def key(self, name: str) -> str:
        return self.prefix + name.lstrip("/")

    def _error(self, exc: BaseException, what: str) -> StoreError:
        from botocore.exceptions import ClientError, EndpointConnectionError

        where = f"{self.url}" + (f" at {self.endpoint}" if self.endpoint else "")
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket" or (code == "404" and what == "open the bucket"):
                return StoreError(
                    f"the bucket of {where} does not exist", hint="create it, or fix storage_url"
                )
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
                return StoreError(f"{where} refused the keys ({code}) while trying to {what}",
                                  hint="check storage_access_key / storage_secret_key")  # fmt: skip
            return StoreError(f"{where}: {what} failed ({code or exc})")
        if isinstance(exc, EndpointConnectionError | ConnectionError | TimeoutError):
            return StoreUnavailable(f"{where} is unreachable while trying to {what}",
                                    hint="check storage_endpoint and that the store is running")  # fmt: skip
        return StoreUnavailable(f"{where}: {what} failed ({type(exc).__name__}: {exc})")

    # -- the store ------------------------------------------------------------------------------

    def check(self) -> None:
        """Fail early, in one line, when the bucket can't be used."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self._error(exc, "open the bucket") from None

    def put_file(self, name: str, path: Path, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else None
        try:
            self.client.upload_file(str(path), self.bucket, self.key(name), ExtraArgs=extra)
        except Exception as exc:
            raise self._error(exc, f"upload {name}") from None

    def put_bytes(self, name: str, data: bytes, content_type: str | None = None) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data,
                                   **({"ContentType": content_type} if content_type else {}))  # fmt: skip
        except Exception as exc:
            raise self._error(exc, f"upload {name}") from None

    def get_file(self, name: str, dest: Path) -> bool:
        """Download ``name`` to ``dest`` (through a temporary name); False when there is no such object."""
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            self.client.download_file(self.bucket, self.key(name), str(tmp))
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            if _missing(exc):
                return False
            raise self._error(exc, f"download {name}") from None
        tmp.replace(dest)
        return True

    def stat(self, name: str) -> int | None:
        """The object's size, or None when there is none."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except Exception as exc:
            if _missing(exc):
                return None
            raise self._error(exc, f"look up {name}") from None
        return int(head["ContentLength"])

    def read_range(self, name: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` (inclusive) of ``name``, streamed in chunks."""
        try:
            body = self.client.get_object(
                Bucket=self.bucket, Key=self.key(name), Range=f"bytes={start}-{end}"
            )["Body"]
        except Exception as exc:
            raise self._error(exc, f"read {name}") from None
        try:
            while chunk := body.read(CHUNK):
                yield chunk
        finally:
            body.close()

    def presign(self, name: str, expires: int = 3600) -> str:
        url: str = self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket,
                                                      "Key": self.key(name)}, ExpiresIn=expires)  # fmt: skip
        return url

    def delete_prefix(self, name: str) -> None:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.key(name)
            )
            for page in pages:
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        except Exception as exc:
            raise self._error(exc, f"delete {name}") from None


def _missing(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey")
