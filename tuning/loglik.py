"""Log-probabilities of a text's own tokens under the model: what `/v1/completions` returns with
`echo: true, logprobs: N`, and what multiple-choice scoring sums over a choice's tokens.
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass
from typing import Any

from tuning.stopping import PREFILL_CHUNK, Cancelled, stop_on


@dataclass
class Scored:
    """One text split into tokens with their offsets and log-probabilities (the first token has
    none: nothing comes before it)."""

    tokens: list[str]
    text_offset: list[int]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]

    def as_openai(self) -> dict[str, Any]:
        """The `logprobs` block of an OpenAI text completion."""
        return {
            "tokens": self.tokens,
            "token_logprobs": self.token_logprobs,
            "top_logprobs": self.top_logprobs,
            "text_offset": self.text_offset,
        }


def split_tokens(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of `text` (no special tokens added) and each token's character span."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [int(t) for t in enc["input_ids"]], [(int(a), int(b)) for a, b in enc["offset_mapping"]]


def score_text(
    model: Any, tokenizer: Any, text: str, top: int = 1, cancel: threading.Event | None = None
) -> Scored:
    """Each token of `text` with log P(token | the tokens before it), and the `top` likeliest
    tokens at each position (OpenAI's `top_logprobs`); raises `Cancelled` once `cancel` is set.

    The text goes through the model `PREFILL_CHUNK` tokens at a time over a key/value cache, so
    the logits held at once stay at one chunk's (not 1.6 GB for an 8,192-token prompt) and a
    client that leaves stops the work between layers.
    """
    import torch

    ids, spans = split_tokens(tokenizer, text)
    tokens = [text[a:b] for a, b in spans]
    offsets = [a for a, _b in spans]
    if len(ids) < 2:
        return Scored(tokens, offsets, [None] * len(ids), [None] * len(ids))
    device = next(model.parameters()).device
    key = cache_argument(model)
    taken: list[float] = []
    tops: list[dict[str, float] | None] = [None]
    cache = None
    with torch.inference_mode(), stop_on(model, cancel):
        # the last token predicts nothing we report, so it is never fed
        for start in range(0, len(ids) - 1, PREFILL_CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            piece = ids[start : min(start + PREFILL_CHUNK, len(ids) - 1)]
            result = model(
                input_ids=torch.tensor([piece], device=device), use_cache=True, **{key: cache}
            )
            cache = getattr(result, key)
            logprobs = torch.log_softmax(result.logits[0].float(), dim=-1)
            targets = torch.tensor(ids[start + 1 : start + 1 + len(piece)], device=device)
            taken.extend(logprobs.gather(1, targets[:, None])[:, 0].tolist())
            best = torch.topk(logprobs, k=max(1, top), dim=-1)
            for values, indices in zip(best.values.tolist(), best.indices.tolist(), strict=True):
                tops.append(
                    {
                        tokenizer.decode([i]): round(v, 6)
                        for i, v in zip(indices, values, strict=True)
                    }
                )
    return Scored(tokens, offsets, [None, *[round(x, 6) for x in taken]], tops)


def cache_argument(model: Any) -> str:
    """The key/value cache's argument name in this transformers version (`cache` from 5.23 on,
    `past_key_values` before), read from the model's own forward (through a PEFT wrapper)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


def continuation_logprob(scored: Scored, context_chars: int) -> float:
    """Sum of the log-probabilities of the tokens that end after the first `context_chars`
    characters: the continuation's tokens, the lm-eval-harness way.

    >>> s = Scored(["Q", ":", " yes"], [0, 1, 2], [None, -0.5, -1.25], [None, None, None])
    >>> continuation_logprob(s, 2)
    -1.25
    """
    total = 0.0
    for token, start, value in zip(
        scored.tokens, scored.text_offset, scored.token_logprobs, strict=True
    ):
        if start + len(token) > context_chars and value is not None:
            total += value
    return total
