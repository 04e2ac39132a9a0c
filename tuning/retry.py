"""When to ask an endpoint again: a 429 or 503 with Retry-After is waited out within a time
budget; other passing failures (5xx, timeouts, no connection) are retried a few times with backoff.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TypeVar

import openai

T = TypeVar("T")
MIN_WAIT_S = 0.05  # a "Retry-After: 0" still yields the CPU to the server for a moment
WAITED_OUT = (429, 503)
RETRIED = (408, 409, 429, 500, 502, 503, 504)


class BudgetSpent(Exception):
    """The server kept asking to wait (429/503 with Retry-After) past the retry budget."""

    def __init__(self, status: int, waited_s: float, budget_s: float, asked_s: float) -> None:
        super().__init__(
            f"busy ({status}) for {waited_s:.1f} s; it asks for {asked_s:g} s more, past the "
            f"retry budget of {budget_s:g} s — raise TUNING_RETRY_BUDGET_S or ask less at once"
        )
        self.status = status


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds a reply asks the client to wait: `retry-after-ms`, or `retry-after` in seconds
    or as an HTTP date; None when it asks nothing.

    >>> retry_after_s({"retry-after": "2"}), retry_after_s({"retry-after-ms": "250"})
    (2.0, 0.25)
    >>> retry_after_s({"retry-after": "Thu, 01 Jan 2026 00:00:10 GMT"}, now=1767225600.0)
    10.0
    >>> retry_after_s({}) is None, retry_after_s({"retry-after": "soon"}) is None
    (True, True)
    """
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        value = lower.get("retry-after")
        if value is None:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        when = parsedate_to_datetime(value).timestamp()
    except (ValueError, TypeError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def backoff_s(attempt: int) -> float:
    """0.5 s doubling per attempt up to 8 s, with up to a quarter taken off at random (so many
    threads that failed together do not come back together)."""
    return min(8.0, 0.5 * 2**attempt) * (1 - 0.25 * random.random())


class RetryPolicy:
    """Calls a function until it succeeds or a failure is final; safe to share between threads
    (it keeps no state between calls)."""

    def __init__(
        self,
        max_retries: int,
        budget_s: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.budget_s = budget_s
        self.sleep = sleep
        self.waits = 0  # Retry-After waits taken, all calls together (for benches and tests)
        self._count = threading.Lock()

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()`, retried as the module docstring says; the last failure is raised."""
        started = time.monotonic()
        retries = 0
        while True:
            try:
                return fn()
            except openai.APIStatusError as err:
                asked = retry_after_s(err.response.headers)
                if err.status_code in WAITED_OUT and asked is not None:
                    waited = time.monotonic() - started
                    if waited + asked > self.budget_s:
                        raise BudgetSpent(err.status_code, waited, self.budget_s, asked) from err
                    with self._count:
                        self.waits += 1
                    self.sleep(max(asked, MIN_WAIT_S))
                    continue
                if err.status_code not in RETRIED or retries >= self.max_retries:
                    raise
            except openai.APIConnectionError:  # timeouts included
                if retries >= self.max_retries:
                    raise
            self.sleep(backoff_s(retries))
            retries += 1
