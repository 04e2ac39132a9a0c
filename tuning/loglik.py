"""Log-probabilities of a text's own tokens under the model: what `/v1/completions` returns with
`echo: true, logprobs: N`, and what multiple-choice scoring sums over a choice's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def score_text(model: Any, tokenizer: Any, text: str, top: int = 1) -> Scored:
    """Each token of `text` with log P(token | the tokens before it), and the `top` likeliest
    tokens at each position (OpenAI's `top_logprobs`)."""
    import torch

    ids, spans = split_tokens(tokenizer, text)
    tokens = [text[a:b] for a, b in spans]
    offsets = [a for a, _b in spans]
    if len(ids) < 2:
        return Scored(tokens, offsets, [None] * len(ids), [None] * len(ids))
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids], device=device)).logits[0, :-1].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    taken = logprobs.gather(1, torch.tensor(ids[1:], device=device)[:, None])[:, 0].tolist()
    best = torch.topk(logprobs, k=max(1, top), dim=-1)
    tops: list[dict[str, float] | None] = [None]
    for values, indices in zip(best.values.tolist(), best.indices.tolist(), strict=True):
        tops.append(
            {tokenizer.decode([i]): round(v, 6) for i, v in zip(indices, values, strict=True)}
        )
    return Scored(tokens, offsets, [None, *[round(x, 6) for x in taken]], tops)


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
