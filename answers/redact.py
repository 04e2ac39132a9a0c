"""The one redaction step every stored, logged or shown error text passes through.

It removes the keys the edge registered (the configured API keys) and anything shaped like a key:
`sk-…` tokens, `Bearer …` credentials, `api_key=…` pairs.
"""

from __future__ import annotations

import re
import threading

MASK = "[redacted]"
_KEY_SHAPED = re.compile(
    r"(?:\bsk-[A-Za-z0-9_\-]{8,})"  # OpenAI-style secret keys
    r"|(?:(?<=Bearer )[A-Za-z0-9._~+/=\-]{6,})"  # the credential of an Authorization header
    r"|(?:(?<=api[_-]key[=:] )[^\s,;\"']{6,})|(?:(?<=api[_-]key[=:])[^\s,;\"']{6,})",
    re.IGNORECASE,
)
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a configured key, so any text that repeats it is redacted (empty values ignored;
    very short ones too: masking "a" everywhere would hide the message, not the key)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """The text with registered keys and key-shaped strings replaced by a mask.

    >>> redact("401: Authorization: Bearer sk-proj-abcdef123456 refused")
    '401: Authorization: Bearer [redacted] refused'
    >>> redact("no key here")
    'no key here'
    """
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _KEY_SHAPED.sub(MASK, text)
