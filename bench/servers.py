"""A chroma server on 127.0.0.1 for the benchmarks: started in a folder, stopped by its PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_chroma(path: Path, port: int | None = None, timeout: float = 60) -> tuple[Any, str]:
    """`chroma run` storing under `path` (on `port`, else a free one); (process, URL) once it
    answers its heartbeat. Stop it with `stop_chroma`."""
    import chromadb

    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = port or free_port()
    log = open(path.parent / f"{path.name}.log", "ab")  # noqa: SIM115 - closed by stop_chroma
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while True:
        try:
            chromadb.HttpClient(
                host="127.0.0.1",
                port=port,
                settings=chromadb.Settings(anonymized_telemetry=False),
            ).heartbeat()
            return proc, f"http://127.0.0.1:{port}"
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_chroma(proc)
                raise RuntimeError(f"chroma run did not start (log: {log.name})") from None
            time.sleep(0.2)


def stop_chroma(proc: Any) -> None:
    """Stop a server `start_chroma` started, by its PID."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log.close()


@contextmanager
def chroma_server(path: Path, timeout: float = 60) -> Iterator[str]:
    """`chroma run` storing under `path`; yields its URL once it answers its heartbeat."""
    proc, url = start_chroma(path, timeout=timeout)
    try:
        yield url
    finally:
        stop_chroma(proc)
