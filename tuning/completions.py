"""Raw-text completions with token log-probabilities: the `/v1/completions` protocol lm-eval's
`local-completions` model speaks (`echo: true, logprobs: 1, max_tokens: 0` scores a prompt).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from tuning.generate import Generator, Sampling
from tuning.loglik import score_text
from tuning.schemas import CompletionRequest, usage
from tuning.stopping import Cancelled


def complete_text(
    gen: Generator, prompt: str, sampling: Sampling, req: CompletionRequest, cancel: threading.Event
) -> tuple[str, Any, int, int]:
    """(text, logprobs block, prompt tokens, completion tokens) for one raw prompt; raises
    `Cancelled` once `cancel` is set."""
    ids = [int(t) for t in gen.tokenizer(prompt, add_special_tokens=False)["input_ids"]]
    gen.check_fits(ids, sampling.max_tokens)
    made = gen.run(ids, sampling, None, cancel) if sampling.max_tokens else None
    if cancel.is_set() or (made is not None and made.cancelled):
        raise Cancelled()
    new = made.text if made is not None else ""
    text = prompt + new if req.echo else new
    if req.logprobs is None:
        return (
            text,
            None,
            len(ids),
            len(gen.tokenizer(new, add_special_tokens=False)["input_ids"]) if new else 0,
        )
    scored = score_text(gen.model, gen.tokenizer, prompt + new, req.logprobs, cancel)
    if not req.echo:  # only the generated tokens, as OpenAI does without echo
        keep = [i for i, o in enumerate(scored.text_offset) if o >= len(prompt)]
        scored.tokens, scored.text_offset = (
            [scored.tokens[i] for i in keep],
            [scored.text_offset[i] for i in keep],
        )
        scored.token_logprobs = [scored.token_logprobs[i] for i in keep]
        scored.top_logprobs = [scored.top_logprobs[i] for i in keep]
    completion = sum(1 for o in scored.text_offset if o >= len(prompt))
    return text, scored.as_openai(), len(ids), completion


def complete_all(
    gen: Generator,
    prompts: list[str],
    sampling: Sampling,
    req: CompletionRequest,
    cancel: threading.Event,
) -> list[tuple[str, Any, int, int]]:
    """Every prompt in turn, stopping between (and within) prompts once `cancel` is set: a
    client that leaves a batch frees the model at once, not after the batch."""
    results = []
    for prompt in prompts:
        try:
            results.append(complete_text(gen, prompt, sampling, req, cancel))
        except Cancelled:
            break
    return results


def completion_body(
    model: str, results: list[tuple[str, Any, int, int]], max_tokens: int
) -> dict[str, Any]:
    """OpenAI's text completion reply, one choice per prompt."""
    choices = [
        {"index": i, "text": text, "logprobs": logprobs,
         "finish_reason": "length" if max_tokens and n == max_tokens else "stop"}
        for i, (text, logprobs, _p, n) in enumerate(results)
    ]  # fmt: skip
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage(sum(r[2] for r in results), sum(r[3] for r in results)),
    }
