"""The local server's routes: chat and text completions, embeddings, models and health.

Every request is checked against the limits before its text is tokenized; a model is reached
only through its gate (bounded queue, 503 + Retry-After when full), a request's `model` picks
the base model or one adapter of it, and a request whose client leaves stops its work within a
layer and frees the model. A chat or text completion also says, as `queue_s`, how long it waited
for the model before its work began, so a client can tell waiting from answering.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from tuning.completions import complete_all, completion_body
from tuning.embed import Embedder, to_base64
from tuning.errors import TuningError
from tuning.gate import Busy, ModelGate
from tuning.generate import Generation, Generator, Sampling
from tuning.guard import Guard
from tuning.limits import Refused, check_chat, check_completion, check_embed_input
from tuning.schemas import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    chat_completion,
    error_body,
)
from tuning.served import ServedModels, Variant, answering_as
from tuning.settings import ServeSettings
from tuning.watch import ClientGone, run_queued, run_watched, stream_chat

EMBED_BATCH = 64  # texts per encoder call; a client that leaves is noticed between calls


def build_app(
    generator: Generator | None,
    models: ServedModels | str | None,
    settings: ServeSettings | None = None,
    embedder: Embedder | None = None,
) -> Any:
    """The ASGI app serving chat models (the ids in `models`, or one id as loaded), an
    embedding model, or both."""
    limits = settings or ServeSettings(_env_file=None)
    served = ServedModels.single(models) if isinstance(models, str) else models
    app = FastAPI(title="rag-or-tune local model", docs_url=None, redoc_url=None)
    gates = {
        "chat": ModelGate("chat", limits.queue_max, limits.queue_wait_s),
        "embed": ModelGate("embed", limits.queue_max, limits.queue_wait_s),
    }
    app.state.gates = gates
    _add_error_handlers(app)
    created = int(time.time())
    chat_ids = served.ids if generator is not None and served is not None else []

    @app.get("/health")
    def health() -> dict[str, Any]:
        states = {k: {"running": g.running, "waiting": g.waiting, "served": g.served}
                  for k, g in gates.items()}  # fmt: skip
        return {"status": "ok", "chat_model": chat_ids[0] if chat_ids else None,
                "chat_models": chat_ids, "embedding_model": embedder.name if embedder else None,
                "weights": limits.weights if chat_ids else None, "gates": states}  # fmt: skip

    @app.get("/v1/models")
    def models_list() -> dict[str, Any]:
        names = chat_ids + ([embedder.name] if embedder else [])
        data = [{"id": n, "object": "model", "created": created, "owned_by": "local"}
                for n in names]  # fmt: skip
        return {"object": "list", "data": data}

    def chat_model(requested: str | None) -> tuple[Generator, Variant]:
        if generator is None or served is None:
            message = "no chat model loaded here — start the server with --adapter"
            raise Refused(404, message, "model_not_found")
        return generator, served.pick(requested)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(req: ChatRequest, request: Request) -> Any:
        gen, variant = chat_model(req.model)
        asked = req.max_completion_tokens or req.max_tokens
        if asked == 0:
            raise Refused(400, "max_tokens must be at least 1 for a chat completion")
        max_tokens = asked or limits.default_max_tokens
        check_chat(req, max_tokens, gen.max_context, limits)
        prompt = gen.prompt_ids(req.turns())
        try:
            gen.check_fits(prompt, max_tokens)
        except TuningError as err:
            raise Refused(400, str(err), "context_length_exceeded") from err
        sampling = Sampling(max_tokens, req.temperature or 0.0, req.stops(), req.seed, req.top_p)
        cancel = threading.Event()
        reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

        def generate(on_text: Callable[[str], None] | None = None) -> Generation:
            with answering_as(gen.model, variant):
                return gen.run(prompt, sampling, on_text, cancel)

        if req.stream:
            head = (request, gates["chat"], generate, cancel, reply_id, variant.id)
            return await stream_chat(*head, req.include_usage())
        result, queued = await run_queued(request, gates["chat"], generate, cancel)
        return chat_completion(reply_id, variant.id, result) | {"queue_s": round(queued, 4)}

    @app.post("/v1/completions", response_model=None)
    async def completions(req: CompletionRequest, request: Request) -> Any:
        gen, variant = chat_model(req.model)
        if req.stream:
            raise Refused(400, "stream is not supported on /v1/completions — use chat completions")
        max_tokens = limits.default_max_tokens if req.max_tokens is None else req.max_tokens
        prompts = req.prompts()
        check_completion(req, prompts, max_tokens, gen.max_context, limits)
        sampling = Sampling(max_tokens, req.temperature or 0.0, req.stops(), req.seed, req.top_p)
        cancel = threading.Event()

        def job() -> list[tuple[str, Any, int, int]]:
            with answering_as(gen.model, variant):
                return complete_all(gen, prompts, sampling, req, cancel)

        results, queued = await run_queued(request, gates["chat"], job, cancel)
        return completion_body(variant.id, results, max_tokens) | {"queue_s": round(queued, 4)}

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
        cancel = threading.Event()

        def job() -> Any:
            batches = []
            for start in range(0, len(texts), EMBED_BATCH):
                if cancel.is_set():  # the client left: the rest is never read
                    break
                batches.append(embedder.embed(texts[start : start + EMBED_BATCH]))
            return batches, 0 if cancel.is_set() else embedder.count_tokens(texts)

        batches, tokens = await run_watched(request, gates["embed"], job, cancel)
        as_base64 = req.encoding_format == "base64"
        vectors = [v for batch in batches for v in batch]
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
    return Guard(app, key, limits.max_body_bytes, limits)


def _add_error_handlers(app: FastAPI) -> None:
    """Every refusal in OpenAI's error shape; a busy model says when to come back."""

    def fail(status: int, message: str, code: str | None = None, **headers: str) -> JSONResponse:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        return JSONResponse(error_body(message, kind, code), status, headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return fail(400, f"invalid request: {where}")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not parse the body at all
            message = (
                f"invalid request: {exc.detail} — send one JSON object in UTF-8, "
                "nested no deeper than JSON readers allow"
            )
            return fail(400, message, "invalid_json")
        return fail(exc.status_code, str(exc.detail))

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

    @app.exception_handler(Exception)
    async def broken(_request: Request, exc: Exception) -> JSONResponse:
        # the server stays up; the reply names the kind of failure, never a traceback
        return fail(500, f"internal error: {type(exc).__name__} — the request was not served")
