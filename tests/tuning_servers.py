"""Helpers for the tuning tests: run an ASGI app or the model server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[Any], grace_s: float = 10) -> None:
    """End one child we started, by its PID: terminate, then kill if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def model_server(
    adapter: str | None, env: dict[str, str] | None = None, extra: list[str] | None = None
) -> Iterator[str]:
    """Start `python -m tuning.serve` on a free port; yields the /v1 URL; stops it by its PID."""
    full_env = {**os.environ, **(env or {})}
    model = ["--adapter", adapter] if adapter else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuning.serve", *model, "--port", "0", *(extra or [])],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints its URL once it is listening
        if "serving" not in line:
            raise RuntimeError(f"model server did not start (exit {proc.poll()}): {line!r}")
        yield line.split(" at ", 1)[1].strip()
    finally:
        stop(proc)
