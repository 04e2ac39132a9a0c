"""The server's door: an API key when one is set, no body larger than the limit is read, and
none is waited for longer than the read timeout.

Pure ASGI, in front of FastAPI: a refused request is answered before its body is parsed, so a
10 MB body costs the server nothing but reading up to the limit, and a client that trickles its
body a byte at a time holds nothing past the timeout.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from typing import Any

from tuning.schemas import error_body
from tuning.settings import ServeSettings

Scope = dict[str, Any]
OPEN_PATHS = frozenset({"/health"})  # liveness needs no key: it says nothing about the model


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach.

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "10.1.2.3")]
    [True, True, True, False, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def key_matches(header: str | None, key: str) -> bool:
    """Whether an Authorization header carries `Bearer <key>` (compared in constant time).

    >>> key_matches("Bearer s3cret", "s3cret"), key_matches("Bearer other", "s3cret"), key_matches(None, "s3cret")
    (True, False, False)
    """
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), key.encode())


class Guard:
    """ASGI middleware: 401 without the right key (when a key is set), 413 past `max_body_bytes`,
    408 when the body takes longer than `read_timeout_s`; `settings` are the server's limits,
    for whoever starts it."""

    def __init__(
        self,
        app: Any,
        api_key: str | None,
        max_body_bytes: int,
        settings: ServeSettings | None = None,
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.settings = settings or ServeSettings(_env_file=None)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        guarded = self.api_key and scope["path"] not in OPEN_PATHS
        if guarded and not key_matches(headers.get("authorization"), str(self.api_key)):
            message = "missing or wrong API key — send `Authorization: Bearer <key>`"
            await _reply(send, 401, error_body(message, "invalid_request_error", "invalid_api_key"))
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _reply(send, 413, _too_large(self.max_body_bytes))
            return
        timeout = self.settings.read_timeout_s
        try:
            async with asyncio.timeout(timeout):
                body, complete = await _read_body(receive, self.max_body_bytes)
        except TimeoutError:
            message = (
                f"request body not received within {timeout:g} s — send it at once, "
                "or raise --read-timeout-s"
            )
            await _reply(send, 408, error_body(message, "invalid_request_error", "read_timeout"))
            return
        if not complete:
            await _reply(send, 413, _too_large(self.max_body_bytes))
            return
        await self.app(scope, _replay(body, receive), send)


def _too_large(limit: int) -> dict[str, Any]:
    message = f"request body over {limit} bytes — send less text, or raise --max-body-bytes"
    return error_body(message, "invalid_request_error", "request_too_large")


async def _read_body(receive: Any, limit: int) -> tuple[bytes, bool]:
    """The body, read up to `limit` bytes; (partial body, False) once it goes past."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left before sending it all
            return b"".join(parts), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", False
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), True


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands the app the body already read, then the real channel (disconnects)."""
    sent = False

    async def again() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return dict(await receive())

    return again


async def _reply(send: Any, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
