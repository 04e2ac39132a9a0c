"""Turn corpus records into token ids with labels: loss only on what the assistant says."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from answers.quoting import stated_answer
from corpus.record import Message, Record
from tuning.errors import TuningError
from tuning.paraphrase import document_variants, paraphrases

IGNORE = -100  # label value the loss skips
RAFT_SPLIT = "raft.json"  # what `python -m rag.raft` writes: settings and every example


@dataclass(frozen=True)
class Example:
    """One tokenised training example."""

    record_id: str
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        """Tokens that carry a loss."""
        return sum(1 for t in self.labels if t != IGNORE)


def select_records(records: Iterable[Record], until: date) -> list[Record]:
    """Records dated on/before `until` that can be trained: chat-shaped, or plain text.

    Text records are kept and trained as plain language-model text (loss on every token): the
    "fine-tune on raw documents" setting of the research this product compares against.
    Undated records count as old enough.
    """
    return [r for r in records if (r.as_of is None or r.as_of <= until) and (r.chat() or r.text)]


def to_dicts(turns: Sequence[Message]) -> list[dict[str, str]]:
    """Chat turns as the dicts chat templates take."""
    return [{"role": t.role, "content": t.content} for t in turns]


def encode_chat(
    tokenizer: Any, turns: Sequence[Message], max_len: int
) -> tuple[list[int], list[int]]:
    """Token ids of a chat through the model's template, labels set only on assistant replies.

    Each turn's text is the difference between the template rendered up to it and up to the
    turn before, so the result is exactly what `apply_chat_template` produces for the whole chat.
    """
    msgs = to_dicts(turns)
    ids: list[int] = []
    labels: list[int] = []
    shown = ""

    def add(upto: str, learn: bool) -> None:
        nonlocal shown
        if not upto.startswith(shown):
            raise TuningError("chat template is not prefix-stable; cannot mask the prompt")
        piece = tokenizer(upto[len(shown) :], add_special_tokens=False)["input_ids"]
        ids.extend(piece)
        labels.extend(piece if learn else [IGNORE] * len(piece))
        shown = upto

    for k, msg in enumerate(msgs):
        if msg["role"] == "assistant":
            add(render(tokenizer, msgs[:k], generation_prompt=True), learn=False)
        add(render(tokenizer, msgs[: k + 1], generation_prompt=False), msg["role"] == "assistant")
    return ids[:max_len], labels[:max_len]


def render(tokenizer: Any, msgs: list[dict[str, str]], generation_prompt: bool) -> str:
    """The chat template's text for `msgs` ('' for no messages)."""
    if not msgs:
        return ""
    text = tokenizer.apply_chat_template(
        msgs, tokenize=False, add_generation_prompt=generation_prompt
    )
    return str(text)


def encode_text(tokenizer: Any, text: str, max_len: int) -> tuple[list[int], list[int]]:
    """Plain text for language modelling: every token carries a loss."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][: max_len - 1]
    ids = [*ids, tokenizer.eos_token_id]
    return ids, list(ids)


def with_question(turns: list[Message], question: str) -> list[Message]:
    """The chat with its first user turn's question replaced (its context kept after it)."""
    out = list(turns)
    for i, t in enumerate(out):
        if t.role == "user":
            rest = t.content.split("\n\n", 1)
            tail = f"\n\n{rest[1]}" if len(rest) == 2 else ""
            out[i] = Message(role="user", content=question + tail)
            break
    return out


def offline_document_variants(records: Sequence[Record], count: int) -> dict[str, list[str]]:
    """`count` offline variants of every plain-text record (tuning.paraphrase), by record id."""
    return {
        r.id: document_variants(r.text, count, seed=i)
        for i, r in enumerate(records)
        if r.text and not r.chat()
    }


def build_examples(
    tokenizer: Any,
    records: Sequence[Record],
    max_len: int,
    n_paraphrases: int = 0,
    doc_variants: Mapping[str, Sequence[str]] | None = None,
) -> list[Example]:
    """Examples for every record, plus `n_paraphrases` rephrased copies of each question and,
    for a plain-text record, one example per text in `doc_variants[record.id]`."""
    examples: list[Example] = []
    for i, record in enumerate(records):
        turns = trainable_turns(record)
        if not turns:
            for text in [record.text or "", *(doc_variants or {}).get(record.id, ())]:
                ids, labels = encode_text(tokenizer, text, max_len)
                examples.append(Example(record.id, ids, labels))
            continue
        variants = [turns]
        if record.question and n_paraphrases:
            variants += [
                with_question(turns, q) for q in paraphrases(record.question, n_paraphrases, i)
            ]
        for chat in variants:
            ids, labels = encode_chat(tokenizer, chat, max_len)
            if any(t != IGNORE for t in labels):
                examples.append(Example(record.id, ids, labels))
    return examples


def trainable_turns(record: Record) -> list[Message]:
    """The turns a record trains on. A tool-calling chat trains on its question and final answer
    only: this chat template cannot render tool calls, and an assistant turn that only calls a
    tool would be learned as an empty reply."""
    if not record.has_tools:
        return record.chat()
    head = [Message(role="system", content=record.system)] if record.system else []
    return [
        *head,
        Message(role="user", content=record.prompt_text()),
        Message(role="assistant", content=record.answer or ""),
    ]


def batches_by_length(examples: Sequence[Example], batch_size: int) -> list[list[Example]]:
    """Group examples of similar length into batches, so little of each batch is padding."""
    ordered = sorted(examples, key=lambda e: len(e.input_ids))
    return [list(ordered[i : i + batch_size]) for i in range(0, len(ordered), batch_size)]


def collate(batch: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask, labels."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = [e.input_ids + [pad_id] * (width - len(e.input_ids)) for e in batch]
    mask = [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in batch]
    labels = [e.labels + [IGNORE] * (width - len(e.labels)) for e in batch]
    return {
        "input_ids": torch.tensor(ids),
        "attention_mask": torch.tensor(mask),
        "labels": torch.tensor(labels),
    }


@dataclass(frozen=True)
class RaftData:
    """A RAFT split as training reads it (`raft.json` from `python -m rag.raft`): its settings and,
    per example, the corpus record it teaches and its turns (passages in the system turn, the
    question, the reply that quotes the passage and states the answer)."""

    path: Path
    settings: dict[str, float | int | str]
    examples: tuple[tuple[str, tuple[Message, ...]], ...]

    @property
    def record_ids(self) -> set[str]:
        """The corpus records the split teaches."""
        return {rid for rid, _turns in self.examples}


def read_raft(path: Path) -> RaftData:
    """Read a split from its `raft.json` (or the folder holding it); TuningError naming the
    file and the fix when it is not one."""
    file = path / RAFT_SPLIT if path.is_dir() else path
    hint = "write one with `python -m rag.raft --out DIR` and pass DIR"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        settings = {k: v for k, v in data["settings"].items() if v is not None}
        examples = tuple(
            (str(e["record_id"]), tuple(Message(**m) for m in e["messages"]))
            for e in data["examples"]
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TuningError(f"{file}: not a RAFT split ({err}) — {hint}") from err
    if not examples:
        raise TuningError(f"{file}: the split holds no example — {hint}")
    return RaftData(path=file, settings=settings, examples=examples)


def plain_twin(turns: Sequence[Message]) -> list[Message]:
    """A RAFT example without its passages: the question and the answer its reply states (the
    plain recipe at equal exposure: the same questions and answers, as often)."""
    question = next(t for t in turns if t.role == "user")
    reply = next(t for t in reversed(turns) if t.role == "assistant")
    return [question, Message(role="assistant", content=stated_answer(reply.content))]


def raft_examples(
    tokenizer: Any, raft: RaftData, keep: set[str], max_len: int, passages: bool = True
) -> tuple[list[Example], int]:
    """The split's examples of the records in `keep`, with their passages (RAFT) or without
    (`plain_twin`); loss on the reply only. Returns them and how many were longer than
    `max_len` and left out whole (a cut would drop the reply the example exists to teach)."""
    examples: list[Example] = []
    too_long = 0
    for record_id, turns in raft.examples:
        if record_id not in keep:
            continue
        chat = list(turns) if passages else plain_twin(turns)
        ids, labels = encode_chat(tokenizer, chat, 1 << 30)
        if len(ids) > max_len:
            too_long += 1
            continue
        examples.append(Example(record_id, ids, labels))
    return examples, too_long
