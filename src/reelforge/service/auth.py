"""Bearer-token authentication and per-token limits.

Tokens come from the config (``[[service.tokens]]``). They are required when the server listens on a
non-loopback address (``require_auth = "auto"``, the default); on 127.0.0.1 a request without a token is
anonymous (with the ``anonymous_*`` limits), and a request *with* a wrong token is still refused.
A token may also be given as ``?access_token=`` (RFC 6750) for what a browser cannot send headers with:
``<video src>``, ``EventSource``, download links.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from ..errors import ConfigError
from .settings import ServiceSettings


@dataclass(frozen=True)
class Principal:
    name: str  # the token's name; "" = anonymous
    max_concurrent: int
    max_duration: float


class AuthError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class Authenticator:
    def __init__(self, service: ServiceSettings, host: str) -> None:
        mode = service.require_auth
        self.required = mode == "always" or (mode == "auto" and not is_loopback(host))
        if self.required and not service.tokens:
            raise ConfigError(
                f"the API needs tokens when it listens on {host}",
                hint="add [[service.tokens]] to the config file, or bind to 127.0.0.1",
            )
        self._tokens = [(_digest(t.token.get_secret_value()), t) for t in service.tokens]
        self._anonymous = Principal("", service.anonymous_max_concurrent, service.anonymous_max_duration)

    def authenticate(self, authorization: str | None, query_token: str | None) -> Principal:
        token: str | None = None
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthError("the Authorization header must be 'Bearer <token>'")
            token = value.strip()
        elif query_token:
            token = query_token
        if token is None:
            if self.required:
                raise AuthError("this server needs an API token: send 'Authorization: Bearer <token>'")
            return self._anonymous
        given = _digest(token)
        found = None
        for digest, spec in self._tokens:  # compare with every token, in constant time
            if hmac.compare_digest(digest, given):
                found = spec
        if found is None:
            raise AuthError("the API token is not valid")
        return Principal(found.name, found.max_concurrent, found.max_duration)
