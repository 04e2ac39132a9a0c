"""Helpers for the tuning tests: run the model server on 127.0.0.1, count what the real model
and tokenizer are asked to do, wait for the model to be free."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tuning.generate import Generation, Generator, Sampling

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


class CountingTokenizer:
    """The real tokenizer, counting every call that tokenizes text."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner(*args, **kwargs)

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner.apply_chat_template(*args, **kwargs)


class Recorder(Generator):
    """The real generator, keeping every finished generation; `hold` blocks jobs until set."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        Generator.__init__(self, model, tokenizer)
        self.finished: list[Generation] = []
        self.hold = threading.Event()
        self.hold.set()

    def run(
        self, prompt: list[int], sampling: Sampling, on_text: Any = None, cancel: Any = None
    ) -> Generation:
        self.hold.wait(60)
        gen = Generator.run(self, prompt, sampling, on_text, cancel)
        self.finished.append(gen)
        return gen


def idle(url: str) -> dict[str, Any]:
    """The chat gate's state once nothing runs (waits up to 30 s for that)."""
    for _ in range(300):
        state = httpx.get(f"{url}/health").json()["gates"]["chat"]
        if not state["running"] and not state["waiting"]:
            return dict(state)
        time.sleep(0.1)
    raise AssertionError(f"the model is still busy: {state}")
