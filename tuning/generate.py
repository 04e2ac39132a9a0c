"""Token-by-token decoding with a KV cache, shared by the server's plain and streaming replies."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tuning.errors import TuningError


@dataclass
class Generation:
    """Running totals of one reply; `finish_reason` is set when decoding stops."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    text: str = ""
    pieces: list[str] = field(default_factory=list)


class Generator:
    """One loaded model; a lock makes concurrent requests wait their turn instead of interleaving."""

    def __init__(self, model: Any, tokenizer: Any, max_context: int | None = None) -> None:
        self.model = model
        self.cache_keyword = _cache_keyword(model)
        self.tokenizer = tokenizer
        config_max = getattr(model.config, "max_position_embeddings", 2048)
        self.max_context = max_context or int(config_max)
        self.lock = threading.Lock()
        eos = [tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)]
        self.stop_ids = {int(t) for t in _flatten(eos) if t is not None}

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the chat with the assistant's turn opened."""
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True
        )
        if hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding
            ids = ids["input_ids"]
        return [int(t) for t in ids]

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[tuple[str, Generation]]:
        """Yield (new text, totals so far) as tokens are decoded; greedy unless temperature > 0."""
        prompt = self.prompt_ids(messages)
        if len(prompt) + max_tokens > self.max_context:
            raise TuningError(
                f"prompt of {len(prompt)} tokens + max_tokens {max_tokens} exceeds the "
                f"context of {self.max_context} tokens — shorten the prompt or max_tokens"
            )
        with self.lock:
            yield from self._decode(prompt, max_tokens, temperature, stop or [], seed)

    def complete(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Generation:
        """The whole reply at once."""
        totals = Generation()
        for _piece, totals in self.stream(messages, max_tokens, temperature, stop, seed):  # noqa: B007
            pass
        return totals

    def _decode(
        self,
        prompt: list[int],
        max_tokens: int,
        temperature: float,
        stop: list[str],
        seed: int | None,
    ) -> Iterator[tuple[str, Generation]]:
        import torch

        device = next(self.model.parameters()).device
        gen = Generation(prompt_tokens=len(prompt), finish_reason="length")
        sampler = torch.Generator(device=device)
        sampler.manual_seed(seed if seed is not None else 0)
        out: list[int] = []
        step_input = torch.tensor([prompt], device=device)
        past = None
        with torch.inference_mode():
            for _ in range(max_tokens):
                result = self.model(
                    input_ids=step_input, use_cache=True, **{self.cache_keyword: past}
                )
                past = getattr(result, self.cache_keyword)
                token = _pick(result.logits[0, -1], temperature, sampler)
                if token in self.stop_ids:
                    gen.finish_reason = "stop"
                    break
                out.append(token)
                gen.completion_tokens = len(out)
                text = self.tokenizer.decode(out, skip_special_tokens=True)
                cut = _stop_at(text, stop)
                piece = (text if cut is None else text[:cut])[len(gen.text) :]
                # hold back a partial UTF-8 character until its next token completes it
                if not piece.endswith("\ufffd"):
                    gen.text += piece
                    yield piece, gen
                if cut is not None:
                    gen.finish_reason = "stop"
                    break
                step_input = torch.tensor([[token]], device=device)
        yield "", gen


def _cache_keyword(model: Any) -> str:
    """The forward argument (and output field) that carries the key/value cache: `cache` from
    transformers 5.23 on, where `past_key_values` is deprecated, and `past_key_values` before."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _pick(logits: Any, temperature: float, sampler: Any) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=sampler))


def _stop_at(text: str, stop: list[str]) -> int | None:
    hits = [text.find(s) for s in stop if s and s in text]
    return min(hits) if hits else None


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(v if isinstance(v, list | tuple) else [v])
    return out
