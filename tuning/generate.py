"""Replies from the loaded model through `model.generate`, streamed piece by piece, stoppable.

The server's plain and streaming replies and the probe all come through `Generator.run`: it
blocks its thread, hands out text as whole characters become available, stops at the end of
turn, at a stop string, at `max_tokens`, or within one token once `cancel` is set.

`model.generate` replaced a hand-written KV-cache loop: `bench/tuning_bench.py` times both,
interleaved, and found no consistent difference (0.91x and 1.16x in two runs on a loaded
2-core machine), so the library's loop stays and this module keeps only what it adds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuning.errors import TuningError
from tuning.stopping import PREFILL_CHUNK, Cancelled, stop_on


@dataclass
class Generation:
    """Totals of one reply; `finish_reason` is 'stop' (end of turn, stop string, cancelled) or
    'length' (max_tokens reached)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    text: str = ""
    cancelled: bool = False
    pieces: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens: greedy when temperature is 0; `seed` makes sampling repeatable."""

    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    top_p: float | None = None


def held_back(text: str, stop: tuple[str, ...]) -> int:
    """How many trailing characters of `text` could be the start of a stop string (kept back
    until the next token says whether they are).

    >>> held_back("The answer is 4\\n", ("\\n\\n",))
    1
    >>> held_back("The answer is 4", ("\\n\\n",))
    0
    """
    longest = 0
    for s in stop:
        for k in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:k]):
                longest = k
                break
    return longest


def cut_at_stop(text: str, stop: tuple[str, ...]) -> int | None:
    """Index of the first stop string in `text`, or None.

    >>> cut_at_stop("4 apples. Question: next", ("Question:",))
    10
    """
    hits = [text.find(s) for s in stop if s and s in text]
    return min(hits) if hits else None


class _Pieces:
    """A `generate` streamer: decodes the new tokens and passes on the text not yet handed out."""

    def __init__(self, tokenizer: Any, gen: Generation, stop: tuple[str, ...], eos: set[int]):
        self.tokenizer = tokenizer
        self.gen = gen
        self.stop = stop
        self.eos = eos
        self.ids: list[int] = []
        self.prompt_seen = False
        self.stopped = False  # a stop string was seen: generation ends at this token
        self.on_text: Callable[[str], None] = gen.pieces.append

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate hands over the prompt first
            self.prompt_seen = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist() if int(t) not in self.eos)
        self._emit(final=False)

    def end(self) -> None:
        self._emit(final=True)

    def _emit(self, final: bool) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = cut_at_stop(text, self.stop)
        if cut is not None:
            text, final, self.stopped = text[:cut], True, True
        elif not final:
            text = text[: len(text) - held_back(text, self.stop)]
            if text.endswith("\ufffd"):  # half a UTF-8 character: wait for its next token
                return
        piece = text[len(self.gen.text) :]
        if piece and text.startswith(self.gen.text):
            self.gen.text = text
            self.on_text(piece)


class _Stop:
    """A stopping criterion: the request's `cancel` event is set, or the streamer saw a stop string.

    Stop strings are matched in the decoded text here rather than by `generate(stop_strings=...)`,
    whose tables grow with vocabulary x stop length: four 20,000-character stops asked it for
    73 GiB.
    """

    def __init__(self, cancel: threading.Event, gen: Generation, pieces: _Pieces) -> None:
        self.cancel = cancel
        self.gen = gen
        self.pieces = pieces

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        cancelled = self.cancel.is_set()
        self.gen.cancelled = self.gen.cancelled or cancelled
        stop = cancelled or self.pieces.stopped
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class _OneThreadToDecode:
    """A stopping criterion that never stops: after the prompt's pass it leaves one CPU thread
    to the token-by-token decode, and `restore` gives the rest back.

    The prompt's pass multiplies matrices and uses every core (a 600-token prompt: 1.6x faster on
    two threads than on one). A decode step reads every weight for one token: one thread reads
    as fast as two, and in the server a second only contends with the event loop and the HTTP
    threads (int8 weights: 21.5 tokens/s on one thread, 16.3 on two; fp32 13.6 and 13.1 —
    `bench/weights.py`, through the server). Not where OMP_NUM_THREADS sets the count: the user decides.
    """

    def __init__(self, device: Any) -> None:
        import os

        import torch

        self.torch = torch
        self.threads = torch.get_num_threads()
        self.active = (
            device.type == "cpu" and self.threads > 1 and not os.environ.get("OMP_NUM_THREADS")
        )

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        if self.active and self.torch.get_num_threads() != 1:
            self.torch.set_num_threads(1)
        # on the ids' device: the criteria's answers are or-ed with a flag kept there
        return self.torch.zeros(
            (input_ids.shape[0],), dtype=self.torch.bool, device=input_ids.device
        )

    def restore(self) -> None:
        if self.active:
            self.torch.set_num_threads(self.threads)


class Generator:
    """One loaded model and its tokenizer; callers take turns through the server's gate."""

    def __init__(self, model: Any, tokenizer: Any, max_context: int | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        config_max = getattr(model.config, "max_position_embeddings", 2048)
        self.max_context = max_context or int(config_max)
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

    def check_fits(self, prompt: list[int], max_tokens: int) -> None:
        """Raise TuningError when the prompt and the reply cannot fit the context."""
        if len(prompt) + max_tokens > self.max_context:
            raise TuningError(
                f"prompt of {len(prompt)} tokens + max_tokens {max_tokens} exceeds the "
                f"context of {self.max_context} tokens — shorten the prompt or max_tokens"
            )

    def run(
        self,
        prompt: list[int],
        sampling: Sampling,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """Generate a reply to the prompt ids, calling `on_text` with each new piece of text."""
        import torch

        self.check_fits(prompt, sampling.max_tokens)
        gen = Generation(prompt_tokens=len(prompt), finish_reason="length")
        pieces = _Pieces(self.tokenizer, gen, sampling.stop, self.stop_ids)
        if on_text is not None:
            pieces.on_text = on_text
        device = next(self.model.parameters()).device
        greedy = sampling.temperature <= 0
        if not greedy:
            torch.manual_seed(sampling.seed if sampling.seed is not None else 0)
        threads = _OneThreadToDecode(device)
        try:
            with torch.inference_mode(), stop_on(self.model, cancel):
                output = self.model.generate(
                    input_ids=torch.tensor([prompt], device=device),
                    attention_mask=torch.ones((1, len(prompt)), dtype=torch.long, device=device),
                    max_new_tokens=sampling.max_tokens,
                    do_sample=not greedy,
                    temperature=None if greedy else sampling.temperature,
                    top_p=None if greedy else sampling.top_p,
                    top_k=None,
                    eos_token_id=sorted(self.stop_ids),
                    pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                    streamer=pieces,
                    stopping_criteria=[_Stop(cancel or threading.Event(), gen, pieces), threads],
                    prefill_chunk_size=PREFILL_CHUNK if len(prompt) > PREFILL_CHUNK else None,
                )
        except Cancelled:  # the client left mid-pass: nobody reads what was made so far
            gen.cancelled, gen.finish_reason = True, "stop"
            gen.completion_tokens = len(pieces.ids)
            return gen
        finally:
            threads.restore()
        new = [int(t) for t in output[0, len(prompt) :].tolist()]
        gen.completion_tokens = len(pieces.ids)
        hit_stop = cut_at_stop(self.tokenizer.decode(pieces.ids), sampling.stop) is not None
        if gen.cancelled or hit_stop or any(t in self.stop_ids for t in new):
            gen.finish_reason = "stop"
        return gen

    def complete(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Generation:
        """The whole reply to a chat at once."""
        sampling = Sampling(max_tokens, temperature, tuple(stop or ()), seed)
        return self.run(self.prompt_ids(messages), sampling)


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(v if isinstance(v, list | tuple) else [v])
    return out
