"""The server's ceilings on one request, all checked before any of its text is tokenized.

Every list a request carries has a count limit and every string counts toward
`max_input_chars` (stop strings too, each also capped on its own), so what a request may cost
in memory and time is known before any work starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuning.settings import ServeSettings

if TYPE_CHECKING:
    from tuning.embed import Embedder
    from tuning.schemas import ChatRequest, CompletionRequest


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


def check_chat(req: ChatRequest, max_tokens: int, max_context: int, limits: ServeSettings) -> None:
    """Refuse too many messages or parts, bad stop strings, or too much input for one chat."""
    _check_count(len(req.messages), limits.max_messages, "messages", "--max-messages")
    parts = max(m.parts() for m in req.messages)
    _check_count(parts, limits.max_messages, "content parts in one message", "--max-messages")
    stop_chars = check_stops(req.stop_list(), limits)
    check_decoding(max_tokens, req.chars() + stop_chars, max_context, limits)


def check_completion(
    req: CompletionRequest, prompts: list[str], max_tokens: int, max_context: int,
    limits: ServeSettings,
) -> None:  # fmt: skip
    """Refuse too many prompts, too many tokens over them, too many log-probabilities, bad stop
    strings, or too much input for one text completion."""
    _check_count(len(prompts), limits.max_prompts, "prompts", "--max-prompts")
    if req.logprobs is not None and req.logprobs > limits.max_logprobs:
        message = (
            f"logprobs {req.logprobs} is over this server's limit of {limits.max_logprobs} "
            "(--max-logprobs)"
        )
        raise Refused(400, message, "logprobs_too_large")
    if len(prompts) * max_tokens > limits.max_batch_tokens:
        message = (
            f"{len(prompts)} prompts x max_tokens {max_tokens} = {len(prompts) * max_tokens} "
            f"tokens are over this server's limit of {limits.max_batch_tokens} per request "
            "(--max-batch-tokens) — send fewer prompts or ask fewer tokens"
        )
        raise Refused(400, message, "max_tokens_too_large")
    stop_chars = check_stops(req.stop_list(), limits)
    check_decoding(max_tokens, sum(map(len, prompts)) + stop_chars, max_context, limits)


def check_stops(stops: list[str], limits: ServeSettings) -> int:
    """Refuse too many or too long stop strings; their characters, to count as input."""
    _check_count(len(stops), limits.max_stop_strings, "stop strings", "--max-stop-strings")
    longest = max(map(len, stops), default=0)
    if longest > limits.max_stop_chars:
        message = (
            f"stop: a stop string of {longest} characters is over this server's limit of "
            f"{limits.max_stop_chars} (--max-stop-chars)"
        )
        raise Refused(400, message, "stop_too_long")
    return sum(map(len, stops))


def _check_count(count: int, limit: int, what: str, flag: str) -> None:
    if count > limit:
        message = f"{count} {what} are over this server's limit of {limit} per request ({flag})"
        raise Refused(400, message, "too_many_items")
