"""The training loop: epochs of length-bucketed batches, the loss on the answer tokens only,
and a batch size chosen for the device."""

from __future__ import annotations

import random
import time
from typing import Any

from pydantic import BaseModel, Field

from tuning.data import IGNORE, Example, batches_by_length, collate

CPU_BATCH = 8  # the measured CPU recipe (docs/MODELS: ~5 s per step of 8 × 128 tokens)


class TrainConfig(BaseModel):
    """Hyperparameters of one LoRA run."""

    epochs: int = Field(12, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int | None = Field(
        None, ge=1, description="examples per step; None: 8 on CPU, chosen for a GPU's memory"
    )
    max_len: int = Field(256, ge=16, description="tokens per example; longer ones are cut")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    paraphrases: int = Field(0, ge=0, description="extra phrasings of each question")
    doc_paraphrases: int = Field(0, ge=0, description="variants of each plain-text passage")
    seed: int = 0
    max_steps: int | None = Field(None, ge=1, description="stop early (quick runs and tests)")


def batch_for_memory(free_bytes: int, per_example_bytes: int, cap: int = 64) -> int:
    """The largest power of two from 8 up to `cap` whose examples take at most a third of the
    free memory (the rest is weights, optimizer state and the allocator's slack).

    >>> batch_for_memory(80 * 2**30, 180 * 2**20), batch_for_memory(2 * 2**30, 180 * 2**20)
    (64, 8)
    """
    size = CPU_BATCH
    while size * 2 <= cap and (size * 2) * per_example_bytes <= free_bytes // 3:
        size *= 2
    return size


def pick_batch_size(device: str, model: Any, max_len: int, requested: int | None) -> int:
    """The batch size to train with: the one asked for; else 8 on a CPU; on a GPU, what its free
    memory holds (activations of every layer kept for backward, fp32: ~48 bytes per hidden unit)."""
    if requested:
        return requested
    if not device.startswith("cuda"):
        return CPU_BATCH
    import torch

    free, _total = torch.cuda.mem_get_info()
    config = getattr(model, "config", None)
    hidden = int(getattr(config, "hidden_size", 1024))
    layers = int(getattr(config, "num_hidden_layers", 24))
    return batch_for_memory(int(free), max_len * hidden * layers * 48)


def run_epochs(
    model: Any,
    examples: list[Example],
    pad_id: int,
    device: str,
    config: TrainConfig,
    progress: bool,
) -> tuple[list[float], int]:
    """Train `model` (its trainable parameters) on the examples for `config.epochs` (or
    `config.max_steps`); returns each epoch's mean loss and the tokens processed."""
    import torch
    from tqdm import tqdm

    batches = batches_by_length(examples, config.batch_size or CPU_BATCH)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    rng = random.Random(config.seed)
    total = config.epochs * len(batches)
    if config.max_steps:
        total = min(total, config.max_steps)
    bar = tqdm(total=total, disable=not progress, desc="training", unit="step")
    model.train()
    losses: list[float] = []
    tokens = step = 0
    began = time.perf_counter()
    for _epoch in range(config.epochs):
        order = list(batches)
        rng.shuffle(order)  # length-bucketed batches, visited in a new order each epoch
        epoch_loss: list[float] = []
        for batch in order:
            if step >= total:
                break
            inputs = {k: v.to(device) for k, v in collate(batch, pad_id).items()}
            loss = answer_loss(model, inputs)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens += int(inputs["attention_mask"].sum())
            epoch_loss.append(loss.detach().item())
            bar.update(1)
            bar.set_postfix(
                loss=f"{epoch_loss[-1]:.3f}", tok_s=f"{tokens / (time.perf_counter() - began):.0f}"
            )
        if epoch_loss:
            losses.append(sum(epoch_loss) / len(epoch_loss))
    bar.close()
    model.eval()
    return losses, tokens


def answer_loss(model: Any, inputs: dict[str, Any]) -> Any:
    """Mean cross-entropy over the labelled (answer) tokens, the same value as the model's own
    `loss`, but the vocabulary projection runs only where a label is set: answers are a fraction
    of each sequence, and the 49k-wide logits of every prompt token are most of a step's memory
    traffic (1.3-1.6x faster on CPU, measured in bench/tuning_bench.py)."""
    import torch

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.model(
        input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
    ).last_hidden_state
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE
    logits = causal.lm_head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])
