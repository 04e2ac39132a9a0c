"""Bounded waiting for one model: one job runs, a few wait their turn, the rest hear 'busy'.

A job runs in the model's own worker thread. Its slot is given back when the thread finishes,
not when the request that started it ends, so a client that leaves can never leave the model
locked, and two jobs never share the model.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """The model's queue is full, or a wait for it ran out; retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelGate:
    """At most one job at a time on the model; at most `queue_max` waiting, each up to `wait_s`."""

    def __init__(self, name: str, queue_max: int, wait_s: float) -> None:
        self.name = name
        self.queue_max = queue_max
        self.wait_s = wait_s
        self.running = False
        self.served = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"model-{name}")
        self._recent_s = 1.0  # moving mean of job seconds, for Retry-After

    @property
    def waiting(self) -> int:
        """Requests queued for the model now."""
        return sum(1 for w in self._waiters if not w.done())

    def retry_after(self) -> int:
        """Whole seconds until a place is likely free: the queue ahead times a recent job.

        >>> ModelGate("m", 2, 1.0).retry_after()
        1
        """
        return max(1, min(60, math.ceil(self._recent_s * (self.waiting + 1))))

    async def run(self, job: Callable[[], T]) -> T:
        """Wait for the model (bounded), then run `job` in its worker thread and return its result."""
        await self._enter()
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        future: Future[T] = self._worker.submit(job)

        def finished(_: Future[T]) -> None:
            loop.call_soon_threadsafe(self._leave, time.monotonic() - started)

        future.add_done_callback(finished)
        # shielded: a caller that is cancelled stops waiting, the slot stays taken until the
        # thread ends (the caller's stop flag ends it within a token)
        return await asyncio.shield(asyncio.wrap_future(future))

    async def _enter(self) -> None:
        if not self.running and not self.waiting:
            self.running = True
            return
        if self.waiting >= self.queue_max:
            raise Busy(
                f"model {self.name} busy: {self.waiting} requests already waiting "
                f"(queue of {self.queue_max})",
                self.retry_after(),
            )
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await asyncio.wait_for(turn, self.wait_s)
        except TimeoutError:
            raise Busy(
                f"model {self.name} busy: no turn within {self.wait_s:g} s", self.retry_after()
            ) from None
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed the slot as we were cancelled
                self._leave(None)
            raise

    def _leave(self, seconds: float | None) -> None:
        if seconds is not None:
            self.served += 1
            self._recent_s = 0.8 * self._recent_s + 0.2 * seconds
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes straight to the next in line
                return
        self.running = False

    def close(self) -> None:
        """Stop the worker thread once its current job ends."""
        self._worker.shutdown(wait=False, cancel_futures=True)
