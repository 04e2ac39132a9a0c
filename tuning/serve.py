"""An OpenAI-compatible chat server for the base model plus a LoRA adapter, on 127.0.0.1.

python -m tuning.serve --adapter data/adapters/smollm2-demo-2026-03 --port 8011
python -m tuning.serve --adapter none          # the base model alone
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from corpus.offline import use_offline_defaults
from tuning.errors import TuningError
from tuning.generate import Generation, Generator


class ChatMessage(BaseModel):
    """One message of a request; content may be text or a list of text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """The subset of the OpenAI chat request this server honours (other keys are ignored)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = Field(1, ge=1, le=1)
    seed: int | None = None

    def turns(self) -> list[dict[str, str]]:
        """Messages as template dicts ('developer' is the newer name of 'system')."""
        role = {"developer": "system"}
        return [{"role": role.get(m.role, m.role), "content": m.text()} for m in self.messages]


def build_app(generator: Generator, model_name: str, default_max_tokens: int = 256) -> Any:
    """The FastAPI app serving one model under `model_name`."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse

    app = FastAPI(title="rag-or-tune local model", docs_url=None, redoc_url=None)
    created = int(time.time())

    def error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error(400, f"invalid request: {where}", "invalid_request_error")

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        entry = {"id": model_name, "object": "model", "created": created, "owned_by": "local"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions", response_model=None)
    def chat(req: ChatRequest) -> Any:
        if req.model and req.model != model_name:
            return error(
                404,
                f"model {req.model!r} not served here; this server serves {model_name!r}",
                "invalid_request_error",
                "model_not_found",
            )
        max_tokens = req.max_completion_tokens or req.max_tokens or default_max_tokens
        stop = [req.stop] if isinstance(req.stop, str) else req.stop
        temperature = req.temperature or 0.0
        try:
            # open the stream here, so a too-long prompt is a 400 and not a broken stream
            pieces = generator.stream(req.turns(), max_tokens, temperature, stop, req.seed)
            first = next(pieces)
        except TuningError as err:
            return error(400, str(err), "invalid_request_error", "context_length_exceeded")
        reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if req.stream:
            include_usage = bool((req.stream_options or {}).get("include_usage"))
            events = _sse(reply_id, model_name, first, pieces, include_usage)
            return StreamingResponse(events, media_type="text/event-stream")
        for _ in pieces:  # the totals object is updated in place as decoding goes on
            pass
        return _completion(reply_id, model_name, first[1])

    return app


def _usage(gen: Generation) -> dict[str, int]:
    total = gen.prompt_tokens + gen.completion_tokens
    return {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "total_tokens": total,
    }


def _completion(reply_id: str, model: str, gen: Generation) -> dict[str, Any]:
    message = {"role": "assistant", "content": gen.text}
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": gen.finish_reason, "logprobs": None}
        ],
        "usage": _usage(gen),
    }


def _sse(
    reply_id: str,
    model: str,
    first: tuple[str, Generation],
    rest: Iterator[tuple[str, Generation]],
    include_usage: bool,
) -> Iterator[str]:
    """Server-sent events in the OpenAI chunk format, ending with `data: [DONE]`."""
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None, usage: Any = None) -> str:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        body = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices if usage is None else [],
            "usage": usage,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    gen = first[1]  # updated in place as decoding goes on
    if first[0]:
        yield chunk({"content": first[0]}, None)
    for piece, _ in rest:
        if piece:
            yield chunk({"content": piece}, None)
    yield chunk({}, gen.finish_reason)
    if include_usage:
        yield chunk({}, None, _usage(gen))
    yield "data: [DONE]\n\n"


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
    parser = argparse.ArgumentParser(prog="python -m tuning.serve", description=__doc__)
    parser.add_argument(
        "--adapter", required=True, help="adapter directory, or 'none' for the base"
    )
    parser.add_argument("--port", type=int, default=8011, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--name", help="model name to serve under (default: the adapter's folder)")
    parser.add_argument("--max-tokens", type=int, default=256, help="when a request gives none")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Load the model, bind the port, print the URL, serve until interrupted; 2 could not start."""
    use_offline_defaults()
    args = _parse(argv)
    from tuning.model import load_for_inference
    from tuning.settings import TuningSettings

    settings = TuningSettings()
    adapter = None if args.adapter.lower() == "none" else Path(args.adapter)
    name = args.name or (adapter.resolve().name if adapter else settings.base_model.lower())
    try:
        model, tokenizer = load_for_inference(settings.base_model, settings.cache_dir, adapter)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except (TuningError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import uvicorn

    app = build_app(Generator(model, tokenizer), name, args.max_tokens)
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    print(f"serving {name} at http://{host}:{port}/v1", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
