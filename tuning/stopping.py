"""Stopping a running model within one layer once its request's `cancel` event is set.

A stopping criterion is checked only between tokens, and a long prompt's first forward pass (or a
prompt being scored) can take seconds; a check before every decoder layer ends any pass within
a fraction of one, so a client that leaves frees the model at once whatever it was doing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# prompt tokens per forward pass, when prefilling and scoring: bounds the logits and attention
# scores held at once (a 8,192-token prompt in one pass holds 1.6 GB of logits alone)
PREFILL_CHUNK = 256


class Cancelled(Exception):
    """The request's client left; the model stopped where it was."""


def decoder_layers(model: Any) -> list[Any]:
    """The model's decoder layers (through a PEFT wrapper too); the model itself if it has none."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = inner.get_decoder() if hasattr(inner, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    return list(layers) if layers is not None else [model]


@contextmanager
def stop_on(model: Any, cancel: threading.Event | None) -> Iterator[None]:
    """While inside, a forward pass of `model` raises `Cancelled` at its next layer once `cancel`
    is set (no event: nothing to watch)."""
    if cancel is None:
        yield
        return

    def check(_module: Any, _args: Any) -> None:
        if cancel.is_set():
            raise Cancelled()

    handles = [layer.register_forward_pre_hook(check) for layer in decoder_layers(model)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
