"""`make demo`: the local tuned-model server and the Streamlit app on the bundled demo data.

Builds the index if it is missing, starts `tuning.serve` with the shipped adapter (which serves
the base model beside it) with int8 weights (TUNING_SERVE_WEIGHTS=fp32 for full precision),
prints the served model ids, then starts the app and prints its URL.
Ctrl-C (or SIGTERM) stops both.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADAPTER = ROOT / "data" / "adapters" / "smollm2-demo-2026-03"

from corpus.offline import OFFLINE_DEFAULTS, use_offline_defaults  # noqa: E402


def wait_for_http(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Poll `url` until it answers, the process dies, or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def served_ids(models_url: str) -> list[str]:
    """The model ids a running server lists (the adapter first, then the base model)."""
    with urllib.request.urlopen(models_url, timeout=10) as reply:
        return [str(m["id"]) for m in json.load(reply)["data"]]


def main(argv: list[str] | None = None) -> int:
    """Start server and app; return when either stops or on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAGORTUNE_PORT", "8501")))
    parser.add_argument("--model-port", type=int, default=8011)
    parser.add_argument("--adapter", type=Path, default=ADAPTER)
    args = parser.parse_args(argv)
    use_offline_defaults()
    env = {**OFFLINE_DEFAULTS, **os.environ}
    env.setdefault("TUNING_BASE_URL", f"http://127.0.0.1:{args.model_port}/v1")
    # int8 weights: 1.45-1.6x the tokens/s on a CPU, the adapter's answers as in fp32
    env.setdefault("TUNING_SERVE_WEIGHTS", "int8")
    python = sys.executable

    from rag.manifest import read_manifest
    from rag.settings import RagSettings

    if read_manifest(ROOT / RagSettings().work_dir) is None:
        print("building the retrieval index over data/corpus (first run only)...", flush=True)
        subprocess.run(
            [python, "-m", "rag.rebuild", "--corpus", str(ROOT / "data" / "corpus")],
            cwd=ROOT,
            env=env,
            check=False,
        )

    children: list[subprocess.Popen[bytes]] = []
    try:
        print(
            f"starting the tuned model on 127.0.0.1:{args.model_port} ({args.adapter.name})...",
            flush=True,
        )
        server = subprocess.Popen(
            [
                python,
                "-m",
                "tuning.serve",
                "--adapter",
                str(args.adapter),
                "--port",
                str(args.model_port),
                # room for every side's concurrent questions: a full queue answers 503, waited out
                "--queue-max",
                "32",
            ],
            cwd=ROOT,
            env=env,
        )
        children.append(server)
        models_url = f"http://127.0.0.1:{args.model_port}/v1/models"
        if wait_for_http(models_url, server, 240):
            print(f"serving models: {', '.join(served_ids(models_url))}", flush=True)
        else:
            print(
                "the tuned-model server did not start; the app will show the tuned side's error",
                flush=True,
            )
        app = subprocess.Popen(
            [
                python,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(args.port),
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=env,
        )
        children.append(app)
        if wait_for_http(f"http://127.0.0.1:{args.port}/_stcore/health", app, 120):
            print(
                f"\n  rag-or-tune is running: http://127.0.0.1:{args.port}\n  (Ctrl-C stops it)\n",
                flush=True,
            )
        # SIGINT too: a shell that starts this in the background leaves SIGINT ignored
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
