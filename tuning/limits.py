"""The server's ceilings on one request, all checked before any of its text is tokenized."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuning.settings import ServeSettings

if TYPE_CHECKING:
    from tuning.embed import Embedder


class Refused(Exception):
    """A request the server will not run, answered with an OpenAI-style error."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def check_embed_input(
    texts: list[str], dimensions: int | None, embedder: Embedder, limits: ServeSettings
) -> None:
    """Refuse too many texts, empty ones, too much text, or a vector size the model lacks."""
    if len(texts) > limits.max_embed_inputs:
        raise Refused(
            400,
            f"{len(texts)} inputs are over this server's limit of {limits.max_embed_inputs} per request",
            "too_many_inputs",
        )
    if any(not t for t in texts):
        raise Refused(400, "input: empty strings cannot be embedded")
    check_chars(sum(map(len, texts)), limits)
    if dimensions is not None and dimensions != embedder.dimension:
        raise Refused(
            400,
            f"dimensions {dimensions}: this model gives {embedder.dimension}-dimensional vectors only",
        )


def check_decoding(max_tokens: int, chars: int, max_context: int, limits: ServeSettings) -> None:
    """Refuse a reply longer than the context or the server's ceiling, or too much input text."""
    if max_tokens >= max_context:
        message = f"max_tokens {max_tokens} exceeds the context of {max_context} tokens"
        raise Refused(400, message, "context_length_exceeded")
    if max_tokens > limits.max_tokens_limit:
        message = (
            f"max_tokens {max_tokens} is over this server's limit of "
            f"{limits.max_tokens_limit} (--max-tokens-limit)"
        )
        raise Refused(400, message, "max_tokens_too_large")
    check_chars(chars, limits)


def check_chars(chars: int, limits: ServeSettings) -> None:
    """Refuse more input text than `max_input_chars`."""
    if chars > limits.max_input_chars:
        message = (
            f"{chars} characters of input are over this server's limit of "
            f"{limits.max_input_chars} (--max-input-chars)"
        )
        raise Refused(400, message, "input_too_long")
