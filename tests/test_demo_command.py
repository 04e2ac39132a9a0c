"""`make demo` (scripts/demo.py): builds a missing index, starts the tuned-model server and the app,
prints the URL, and Ctrl-C stops both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.tuning_servers import free_port

pytestmark = pytest.mark.slow


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def test_demo_starts_both_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    app_port, model_port = free_port(), free_port()
    env = {
        **os.environ,
        "RAG_WORK_DIR": str(tmp_path / "index"),  # no index yet: the command builds it
        "RAGORTUNE_WORK_DIR": str(tmp_path / "work"),
    }
    env.pop("TUNING_BASE_URL", None)
    env.pop("TUNING_SERVE_WEIGHTS", None)  # the demo's own choice is what is checked
    demo = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--port",
            str(app_port),
            "--model-port",
            str(model_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "rag-or-tune is running" in line:
                break
        printed = "".join(seen)
        assert f"http://127.0.0.1:{app_port}" in printed, printed[-2000:]
        assert "building the retrieval index" in printed
        assert "serving models: smollm2-demo-2026-03, smollm2-135m-instruct" in printed
        assert (tmp_path / "index" / "manifest.json").is_file()
        assert answers(f"http://127.0.0.1:{app_port}/_stcore/health")
        assert answers(f"http://127.0.0.1:{model_port}/v1/models")
        with urllib.request.urlopen(f"http://127.0.0.1:{model_port}/health", timeout=5) as reply:
            assert json.load(reply)["weights"] == "int8", "the demo serves int8 weights"

        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert demo.wait(timeout=30) == 0
        time.sleep(1)
        assert not answers(f"http://127.0.0.1:{app_port}/_stcore/health")
        assert not answers(f"http://127.0.0.1:{model_port}/v1/models")
    finally:
        if demo.poll() is None:  # a failed check: still stop the children through the demo
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
