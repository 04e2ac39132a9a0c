"""POST a JSON message to a webhook without ever failing the job that sends it.

A chat webhook URL is a secret (its path is the token), so it is registered for redaction and
only its scheme and host are ever shown. The whole call is bounded by one timeout, a server that
accepts the connection and then stalls included.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from answers.redact import redact, register_secret

MAX_URL = 2048
MAX_BODY = 64_000  # bytes of JSON sent; a message is a few hundred


def shown(url: str) -> str:
    """The URL as it may be printed: scheme and host only.

    >>> shown("https://hooks.slack.com/services/T0/B0/secret")
    'https://hooks.slack.com/…'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def check_url(url: str) -> str | None:
    """Why `url` cannot be a webhook, or None when it can."""
    if len(url) > MAX_URL:
        return f"the webhook URL is longer than {MAX_URL} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"the webhook URL must be http:// or https:// with a host, not {parts.scheme!r}"
    return None


def post_json(url: str, payload: dict[str, Any], timeout_s: float) -> str | None:
    """POST `payload`; None when the server answered 2xx, else why not (never raises)."""
    problem = check_url(url)
    if problem is not None:
        return problem
    register_secret(url)
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    if len(body) > MAX_BODY:
        return f"the message is {len(body):,} bytes, over the {MAX_BODY:,} a webhook is sent"
    outcome: list[str | None] = []

    def send() -> None:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as reply:
                outcome.append(None if 200 <= reply.status < 300 else f"HTTP {reply.status}")
        except urllib.error.HTTPError as err:
            outcome.append(f"HTTP {err.code}")
        except Exception as err:  # refused, unreachable, timed out: reported, never raised
            reason = getattr(err, "reason", err)
            outcome.append(f"{type(err).__name__}: {reason}")

    # the socket timeout bounds each read, not the whole exchange: a thread bounds that
    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        return f"no answer within {timeout_s:g} s"
    error = outcome[0]
    return None if error is None else redact(f"{shown(url)}: {error}")
