"""Running a model job for an HTTP request: bounded wait, streamed pieces, stop when the client leaves.

A job is stopped through its `cancel` event, which the generation loop checks at every token;
every way a request can end (reply sent, client gone, error, cancelled stream) sets it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse

from tuning.gate import ModelGate
from tuning.generate import Generation
from tuning.schemas import chat_chunk, usage

T = TypeVar("T")
POLL_S = 0.1  # how often a waiting request checks whether its client is still there
_END = object()


class ClientGone(Exception):
    """The client closed the connection before its reply was ready."""


async def run_watched(
    request: Any, gate: ModelGate, job: Callable[[], Any], cancel: threading.Event
) -> Any:
    """Run `job` through the gate, setting `cancel` (and giving up the wait) if the client leaves."""
    task = asyncio.ensure_future(gate.run(job))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                raise ClientGone()
    finally:
        if not task.done():
            cancel.set()  # the job ends within a token; the gate frees the model when it does
            task.cancel()


async def run_queued(
    request: Any, gate: ModelGate, job: Callable[[], T], cancel: threading.Event
) -> tuple[T, float]:
    """`run_watched`, and the seconds the request waited for the model before its job began
    (a reply reports them as `queue_s`, so a client can tell waiting from answering)."""
    asked = time.monotonic()
    began: list[float] = []

    def timed() -> T:
        began.append(time.monotonic())
        return job()

    result = await run_watched(request, gate, timed, cancel)
    return result, (began[0] - asked) if began else 0.0


async def stream_chat(
    request: Any,
    gate: ModelGate,
    generate: Callable[[Callable[[str], None]], Generation],
    cancel: threading.Event,
    reply_id: str,
    name: str,
    include_usage: bool,
) -> Any:
    """Start the job (`generate(on_text)` in the model's thread), wait for the model (a full
    queue is still a plain 503), then stream."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def job() -> Generation:
        put(None)  # the model is ours: the reply can start
        try:
            return generate(put)
        finally:
            put(_END)

    task = asyncio.ensure_future(gate.run(job))
    started = asyncio.ensure_future(queue.get())
    try:
        while not started.done():
            await asyncio.wait({started, task}, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED)
            if task.done() and not started.done():
                task.result()  # raises Busy or the job's own error
            if not started.done() and await request.is_disconnected():
                raise ClientGone()
    except BaseException:
        cancel.set()
        started.cancel()
        task.cancel()
        raise

    async def events() -> AsyncIterator[str]:
        try:
            yield chat_chunk(reply_id, name, {"role": "assistant", "content": ""}, None)
            while (piece := await queue.get()) is not _END:
                yield chat_chunk(reply_id, name, {"content": piece}, None)
            result: Generation = await task
            yield chat_chunk(reply_id, name, {}, result.finish_reason)
            if include_usage:
                yield chat_chunk(
                    reply_id, name, {}, None, usage(result.prompt_tokens, result.completion_tokens)
                )
            yield "data: [DONE]\n\n"
        finally:  # the client left (the stream is cancelled) or the reply is complete
            cancel.set()

    return _ClosingStream(events(), cancel)


class _ClosingStream(StreamingResponse):
    """A text/event-stream response that sets `cancel` however it ends, even if its body
    iterator is never closed (the model must not go on writing for a reader who left)."""

    def __init__(self, body: AsyncIterator[str], cancel: threading.Event) -> None:
        super().__init__(body, media_type="text/event-stream")
        self.cancel = cancel

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.cancel.set()
