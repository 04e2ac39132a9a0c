"""Starting uvicorn: on a socket that already listens (a client that connects the moment the URL
is printed is queued, never refused), with deadlines for clients that are slow to send.

uvicorn's own `timeout_keep_alive` closes a connection idle between requests; nothing in uvicorn
closes one that never finishes sending a request head, so `TimedH11` adds that deadline (the
body's is the Guard's).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tuning.settings import ServeSettings

BACKLOG = 2048  # connections the kernel holds while the server starts or is busy


class TimedH11(H11Protocol):
    """HTTP/1.1 that closes a connection whose request head is not complete within
    `head_timeout_s` of connecting (or of the first byte of its next request)."""

    head_timeout_s = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._between_requests() and self._head_timer is None:
            self._arm()  # a new request starts: its head has the whole timeout, not per byte
        super().data_received(data)
        if not self._between_requests():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _late(self) -> None:
        self._head_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.close()


def server_config(app: Any, limits: ServeSettings | None = None) -> uvicorn.Config:
    """uvicorn's settings for the app: quiet, with the limits' timeouts and connection cap."""
    limits = limits or getattr(app, "settings", None) or ServeSettings(_env_file=None)
    protocol = type("TimedH11", (TimedH11,), {"head_timeout_s": limits.read_timeout_s})
    return uvicorn.Config(
        app,
        http=protocol,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=limits.keep_alive_s,  # type: ignore[arg-type]  # uvicorn takes floats
        limit_concurrency=limits.max_connections,
        backlog=BACKLOG,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) and already listening (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, limits: ServeSettings | None = None
) -> Iterator[str]:
    """Serve an ASGI app from a background thread (port 0: a free one); yields its base URL once
    uvicorn serves (the socket listens before that, so no early client is refused)."""
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, limits))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError(f"the server on {host}:{bound} stopped while starting")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


class _Announcing(uvicorn.Server):
    """A uvicorn server that prints one line once it serves."""

    def __init__(self, config: uvicorn.Config, line: str) -> None:
        super().__init__(config)
        self.line = line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(self.line, flush=True)


def serve_announced(app: Any, sock: socket.socket, line: str, limits: ServeSettings) -> None:
    """Serve the app on a listening socket until interrupted, printing `line` once it serves."""
    _Announcing(server_config(app, limits), line).run(sockets=[sock])
