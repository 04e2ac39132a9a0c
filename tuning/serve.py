"""`python -m tuning.serve`: an OpenAI-compatible server for the base model plus a LoRA adapter
and/or the packaged sentence embedder, on 127.0.0.1 unless told otherwise.

python -m tuning.serve --adapter data/adapters/smollm2-demo-2026-03 --port 8011
python -m tuning.serve --adapter none                  # the base model alone
python -m tuning.serve --embed-model packaged          # only /v1/embeddings (all-MiniLM-L6-v2)
TUNING_SERVE_API_KEY=... python -m tuning.serve --adapter none --host 0.0.0.0

Flags override the `TUNING_SERVE_*` settings; every flag is listed by `--help`.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from corpus.offline import use_offline_defaults
from tuning.errors import TuningError
from tuning.guard import is_loopback
from tuning.settings import ServeSettings

# flag name -> ServeSettings field, for the limits a flag may override
LIMIT_FLAGS = {
    "max_tokens": "default_max_tokens",
    "max_tokens_limit": "max_tokens_limit",
    "queue_max": "queue_max",
    "queue_wait_s": "queue_wait_s",
    "max_body_bytes": "max_body_bytes",
    "max_input_chars": "max_input_chars",
}


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve an ASGI app from a background thread (port 0: a free one); yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tuning.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--adapter", help="adapter directory, or 'none' for the base model alone")
    add("--embed-model", help="'packaged' (all-MiniLM-L6-v2) or a sentence-transformers path")
    add("--embed-name", help="name the embedding model is served under")
    add("--port", type=int, default=8011, help="0 picks a free port")
    add("--host", default="127.0.0.1", help="any non-loopback address needs an API key")
    add("--name", help="chat model name to serve under (default: the adapter's folder)")
    add("--api-key", help="require `Authorization: Bearer KEY` (env TUNING_SERVE_API_KEY)")
    add("--max-tokens", type=int, help="reply length when a request gives none (256)")
    add("--max-tokens-limit", type=int, help="largest max_tokens a request may ask (512)")
    add("--queue-max", type=int, help="requests that may wait for the model (8); more get 503")
    add("--queue-wait-s", type=float, help="longest wait for the model, then 503 (30)")
    add("--max-body-bytes", type=int, help="larger request bodies get 413 unread (1000000)")
    add("--max-input-chars", type=int, help="characters of input per request (32000)")
    return parser.parse_args(argv)


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """The environment's TUNING_SERVE_* settings with the given flags on top."""
    overrides: dict[str, Any] = {
        field: getattr(args, flag)
        for flag, field in LIMIT_FLAGS.items()
        if getattr(args, flag) is not None
    }
    if args.api_key:
        overrides["api_key"] = SecretStr(args.api_key)
    return ServeSettings(**overrides)


def _load(args: argparse.Namespace) -> tuple[Any, str | None, Any]:
    """(generator or None, chat model name, embedder or None) as the flags ask."""
    from tuning.settings import TuningSettings

    generator = embedder = name = None
    if args.adapter:
        from tuning.generate import Generator
        from tuning.model import load_for_inference

        settings = TuningSettings()
        adapter = None if args.adapter.lower() == "none" else Path(args.adapter)
        name = args.name or (adapter.resolve().name if adapter else settings.base_model.lower())
        model, tokenizer = load_for_inference(settings.base_model, settings.cache_dir, adapter)
        generator = Generator(model, tokenizer)
    if args.embed_model:
        from tuning.embed import Embedder
        from tuning.model import pick_device

        embedder = Embedder.load(args.embed_model, pick_device(), args.embed_name)
    return generator, name, embedder


def main(argv: list[str] | None = None) -> int:
    """Load the models, bind the port, print the URL, serve until interrupted; 2 could not start."""
    use_offline_defaults()
    args = _parse(argv)
    if not args.adapter and not args.embed_model:
        print(
            "error: nothing to serve — give --adapter DIR|none and/or --embed-model",
            file=sys.stderr,
        )
        return 2
    try:
        limits = serve_settings(args)
    except ValidationError as err:
        print(f"error: invalid server setting: {err}", file=sys.stderr)
        return 2
    if limits.api_key is None and not is_loopback(args.host):
        print(
            f"error: --host {args.host} is reachable from other machines — set an API key "
            "(TUNING_SERVE_API_KEY or --api-key) or listen on 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    try:
        generator, name, embedder = _load(args)
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except (TuningError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import uvicorn

    from tuning.api import build_app

    app = build_app(generator, name, limits, embedder)
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    served = ", ".join(n for n in (name, embedder.name if embedder else None) if n)
    print(f"serving {served} at http://{host}:{port}/v1", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
