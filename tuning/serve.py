"""`python -m tuning.serve`: an OpenAI-compatible server for the base model beside one or more
LoRA adapters of it, and/or the packaged sentence embedder, on 127.0.0.1 unless told otherwise.

python -m tuning.serve --adapter data/adapters/smollm2-demo-2026-03 --port 8011
python -m tuning.serve --adapter new=work/adapters/a --adapter old=work/adapters/b
python -m tuning.serve --adapter none                  # the base model alone
python -m tuning.serve --embed-model packaged          # only /v1/embeddings (all-MiniLM-L6-v2)
TUNING_SERVE_API_KEY=... python -m tuning.serve --adapter none --host 0.0.0.0

Each adapter is served under its folder's name (or NAME from NAME=DIR), the base model under
its own id (smollm2-135m-instruct; --base-name renames it, --no-base leaves it out); a request's
`model` picks one, no `model` the first adapter. Flags override the `TUNING_SERVE_*` settings;
every flag is listed by `--help`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from corpus.offline import use_offline_defaults
from tuning.errors import TuningError
from tuning.guard import is_loopback
from tuning.listen import listening_socket, serve_announced, serve_in_thread
from tuning.served import ServedModels, Variant
from tuning.settings import ServeSettings

__all__ = ["LIMIT_FLAGS", "main", "serve_in_thread", "serve_settings"]

# flag -> (ServeSettings field, type, help): every limit a flag may override
LIMIT_FLAGS: dict[str, tuple[str, type, str]] = {
    "max_tokens": ("default_max_tokens", int, "reply length when a request gives none (256)"),
    "max_tokens_limit": ("max_tokens_limit", int, "largest max_tokens a request may ask (512)"),
    "queue_max": ("queue_max", int, "requests that may wait for the model (8); more get 503"),
    "queue_wait_s": ("queue_wait_s", float, "longest wait for the model, then 503 (30)"),
    "max_body_bytes": ("max_body_bytes", int, "larger request bodies get 413 unread (1000000)"),
    "max_input_chars": ("max_input_chars", int, "characters of input per request, stop strings included (32000)"),
    "max_messages": ("max_messages", int, "messages per chat request, and parts per message (256)"),
    "max_prompts": ("max_prompts", int, "prompts per /v1/completions request (64)"),
    "max_batch_tokens": ("max_batch_tokens", int, "prompts x max_tokens of one /v1/completions request (4096)"),
    "max_stop_strings": ("max_stop_strings", int, "stop strings per request (4)"),
    "max_stop_chars": ("max_stop_chars", int, "characters of one stop string (256)"),
    "max_logprobs": ("max_logprobs", int, "largest `logprobs` of a completion (5)"),
    "max_embed_inputs": ("max_embed_inputs", int, "texts per embeddings request (2048)"),
    "keep_alive_s": ("keep_alive_s", float, "close a connection idle between requests after this (5)"),
    "read_timeout_s": ("read_timeout_s", float, "a request's head, then its body, must arrive within this (30)"),
    "max_connections": ("max_connections", int, "open connections; requests beyond them get 503 (128)"),
}  # fmt: skip


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tuning.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--adapter", action="append", metavar="[NAME=]DIR|none",
        help="an adapter directory, served under NAME or its folder's name (repeat for several "
             "adapters of the same base), or 'none' for the base model alone")  # fmt: skip
    add("--name", help="id of the one adapter served (default: its folder's name)")
    add("--base-name", help="id of the base model (default: smollm2-135m-instruct)")
    add("--no-base", action="store_true", help="serve the adapters only, not the base model")
    add("--embed-model", help="'packaged' (all-MiniLM-L6-v2) or a sentence-transformers path")
    add("--embed-name", help="name the embedding model is served under")
    add("--port", type=int, default=8011, help="0 picks a free port")
    add("--host", default="127.0.0.1", help="any non-loopback address needs an API key")
    add("--api-key", help="require `Authorization: Bearer KEY` (env TUNING_SERVE_API_KEY)")
    add("--weights", choices=["fp32", "int8"],
        help="int8: linear layers quantised at load, CPU only, ~1.5x the tokens/s (env TUNING_SERVE_WEIGHTS)")  # fmt: skip
    for flag, (_field, kind, text) in LIMIT_FLAGS.items():
        add(f"--{flag.replace('_', '-')}", type=kind, help=text)
    return parser.parse_args(argv)


def serve_settings(args: argparse.Namespace) -> ServeSettings:
    """The environment's TUNING_SERVE_* settings with the given flags on top."""
    overrides: dict[str, Any] = {
        field: getattr(args, flag)
        for flag, (field, _kind, _text) in LIMIT_FLAGS.items()
        if getattr(args, flag) is not None
    }
    if args.api_key:
        overrides["api_key"] = SecretStr(args.api_key)
    if args.weights:
        overrides["weights"] = args.weights
    return ServeSettings(**overrides)


def adapter_specs(values: list[str], name: str | None) -> list[tuple[str, Path]]:
    """(served id, directory) of each `--adapter` value ('none' adds nothing).

    >>> adapter_specs(["new=work/a", "data/adapters/demo", "none"], None)
    [('new', PosixPath('work/a')), ('demo', PosixPath('data/adapters/demo'))]
    """
    specs = []
    for value in values:
        if value.lower() == "none":
            continue
        label, sep, folder = value.partition("=")
        if sep and label and "/" not in label and not Path(value).is_dir():
            specs.append((label, Path(folder)))
        else:
            specs.append((Path(value).resolve().name or value, Path(value)))
    if name is not None:
        if len(specs) != 1:
            raise TuningError(
                f"--name renames one adapter, and {len(specs)} are served — "
                "name each with --adapter NAME=DIR"
            )
        specs = [(name, specs[0][1])]
    return specs


def _load_chat(args: argparse.Namespace, weights: str) -> tuple[Any, ServedModels]:
    """The generator and the ids it answers to, as the flags ask, with `weights` fp32 or int8."""
    from tuning.generate import Generator
    from tuning.model import (
        adapter_name,
        base_model_id,
        load_for_inference,
        load_with_adapters,
        with_int8_weights,
    )
    from tuning.settings import TuningSettings

    settings = TuningSettings()
    only_base = all(v.lower() == "none" for v in args.adapter)
    specs = adapter_specs(args.adapter, None if only_base else args.name)
    base_id = args.base_name or (args.name if only_base else None) or base_model_id(settings)
    if args.no_base and len(specs) == 1:
        # one adapter and nothing to switch to: merged, it runs as fast as the base model
        model, tokenizer = load_for_inference(settings.base_model, settings.cache_dir, specs[0][1])
        served = ServedModels([Variant(specs[0][0])])
    else:
        variants = [Variant(label, adapter_name(i)) for i, (label, _dir) in enumerate(specs)]
        if not args.no_base:
            variants.append(Variant(base_id))
        served = ServedModels(variants)  # refuses repeated ids before anything loads
        dirs = [folder for _label, folder in specs]
        model, tokenizer = load_with_adapters(settings.base_model, settings.cache_dir, dirs)
    if weights == "int8":
        model = with_int8_weights(model)
    return Generator(model, tokenizer), served


def _load(args: argparse.Namespace, weights: str) -> tuple[Any, ServedModels | None, Any]:
    """(generator or None, served chat ids or None, embedder or None) as the flags ask."""
    generator = served = embedder = None
    if args.adapter:
        generator, served = _load_chat(args, weights)
    if args.embed_model:
        from tuning.embed import Embedder
        from tuning.model import pick_device

        embedder = Embedder.load(args.embed_model, pick_device(), args.embed_name)
    return generator, served, embedder


def main(argv: list[str] | None = None) -> int:
    """Load the models, listen, print the URL once serving, serve until interrupted; 2 could
    not start."""
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
        generator, served, embedder = _load(args, limits.weights)
        sock = listening_socket(args.host, args.port)
    except (TuningError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from tuning.api import build_app

    app = build_app(generator, served, limits, embedder)
    host, port = sock.getsockname()[:2]
    names = (served.ids if served else []) + ([embedder.name] if embedder else [])
    int8 = " (int8 weights)" if generator is not None and limits.weights == "int8" else ""
    serve_announced(
        app, sock, f"serving {', '.join(names)}{int8} at http://{host}:{port}/v1", limits
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
