"""The local server's routes: chat and text completions, embeddings, models and health.

Every request is checked against the limits before its text is tokenized; a model is reached
only through its gate (bounded queue, 503 + Retry-After when full), and a request whose client
leaves stops its generation within a token and frees the model.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from tuning.completions import complete_text, completion_body
from tuning.embed import Embedder, to_base64
from tuning.errors import TuningError
from tuning.gate import Busy, ModelGate
from tuning.generate import Generator, Sampling
from tuning.guard import Guard
from tuning.limits import Refused, check_decoding, check_embed_input
from tuning.schemas import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    chat_completion,
    error_body,
)
from tuning.settings import ServeSettings
from tuning.watch import ClientGone, run_watched, stream_chat


def build_app(
    generator: Generator | None,
    model_name: str | None,
    settings: ServeSettings | None = None,
    embedder: Embedder | None = None,
) -> Any:
    """The ASGI app serving a chat model, an embedding model, or both."""
    limits = settings or ServeSettings(_env_file=None)
    app = FastAPI(title="rag-or-tune local model", docs_url=None, redoc_url=None)
    gates = {
        "chat": ModelGate("chat", limits.queue_max, limits.queue_wait_s),
        "embed": ModelGate("embed", limits.queue_max, limits.queue_wait_s),
    }
    app.state.gates = gates
    _add_error_handlers(app)
    created = int(time.time())

    @app.get("/health")
    def health() -> dict[str, Any]:
        states = {k: {"running": g.running, "waiting": g.waiting, "served": g.served}
                  for k, g in gates.items()}  # fmt: skip
        return {"status": "ok", "chat_model": model_name if generator else None,
                "embedding_model": embedder.name if embedder else None, "gates": states}  # fmt: skip

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        names = ([model_name] if generator else []) + ([embedder.name] if embedder else [])
        data = [{"id": n, "object": "model", "created": created, "owned_by": "local"}
                for n in names]  # fmt: skip
        return {"object": "list", "data": data}

    def chat_model(requested: str | None) -> Generator:
        if generator is None:
            message = "no chat model loaded here — start the server with --adapter"
            raise Refused(404, message, "model_not_found")
        if requested and requested != model_name:
            message = f"model {requested!r} not served here; this server serves {model_name!r}"
            raise Refused(404, message, "model_not_found")
        return generator

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(req: ChatRequest, request: Request) -> Any:
        gen = chat_model(req.model)
        asked = req.max_completion_tokens or req.max_tokens
        if asked == 0:
            raise Refused(400, "max_tokens must be at least 1 for a chat completion")
        max_tokens = asked or limits.default_max_tokens
        check_decoding(max_tokens, req.chars(), gen.max_context, limits)
        prompt = gen.prompt_ids(req.turns())
        try:
            gen.check_fits(prompt, max_tokens)
        except TuningError as err:
            raise Refused(400, str(err), "context_length_exceeded") from err
        sampling = Sampling(max_tokens, req.temperature or 0.0, req.stops(), req.seed)
        cancel = threading.Event()
        reply_id, name = f"chatcmpl-{uuid.uuid4().hex[:24]}", str(model_name)
        if req.stream:
            include = bool((req.stream_options or {}).get("include_usage"))
            head = (request, gates["chat"], gen, prompt, sampling, cancel)
            return await stream_chat(*head, reply_id, name, include)

        def job() -> Any:
            return gen.run(prompt, sampling, None, cancel)

        result = await run_watched(request, gates["chat"], job, cancel)
        return chat_completion(reply_id, name, result)

    @app.post("/v1/completions", response_model=None)
    async def completions(req: CompletionRequest, request: Request) -> Any:
        gen = chat_model(req.model)
        if req.stream:
            raise Refused(400, "stream is not supported on /v1/completions — use chat completions")
        max_tokens = limits.default_max_tokens if req.max_tokens is None else req.max_tokens
        prompts = req.prompts()
        check_decoding(max_tokens, sum(map(len, prompts)), gen.max_context, limits)
        sampling = Sampling(max_tokens, req.temperature or 0.0, req.stops(), req.seed)
        cancel = threading.Event()

        def job() -> list[tuple[str, Any, int, int]]:
            return [complete_text(gen, p, sampling, req, cancel) for p in prompts]

        results = await run_watched(request, gates["chat"], job, cancel)
        return completion_body(str(model_name), results, max_tokens)

    @app.post("/v1/embeddings")
    async def embeddings(req: EmbeddingRequest, request: Request) -> Any:
        if embedder is None:
            message = (
                "no embedding model loaded here — start the server with --embed-model packaged"
            )
            raise Refused(404, message, "model_not_found")
        if req.model and req.model != embedder.name:
            message = f"model {req.model!r} not served here; embeddings come from {embedder.name!r}"
            raise Refused(404, message, "model_not_found")
        texts = req.texts()
        check_embed_input(texts, req.dimensions, embedder, limits)

        def job() -> Any:
            return embedder.embed(texts), embedder.count_tokens(texts)

        vectors, tokens = await run_watched(request, gates["embed"], job, threading.Event())
        as_base64 = req.encoding_format == "base64"
        data = [{"object": "embedding", "index": i,
                 "embedding": to_base64(v) if as_base64 else v.tolist()}
                for i, v in enumerate(vectors)]  # fmt: skip
        return {
            "object": "list",
            "data": data,
            "model": embedder.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    key = limits.api_key.get_secret_value() if limits.api_key else None
    return Guard(app, key, limits.max_body_bytes)


def _add_error_handlers(app: FastAPI) -> None:
    """Every refusal in OpenAI's error shape; a busy model says when to come back."""

    def fail(status: int, message: str, code: str | None = None, **headers: str) -> JSONResponse:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        return JSONResponse(error_body(message, kind, code), status, headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return fail(400, f"invalid request: {where}")

    @app.exception_handler(Refused)
    async def refused(_request: Request, exc: Refused) -> JSONResponse:
        return fail(exc.status, str(exc), exc.code)

    @app.exception_handler(Busy)
    async def busy(_request: Request, exc: Busy) -> JSONResponse:
        retry = str(exc.retry_after_s)
        return fail(503, f"{exc} — retry after {retry} s", "server_busy", **{"Retry-After": retry})

    @app.exception_handler(ClientGone)
    async def gone(_request: Request, _exc: ClientGone) -> Response:
        return Response(status_code=499)  # nobody reads it; an access log shows why
