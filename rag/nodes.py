"""Records to index nodes: what gets embedded, the metadata that travels with it, and the ids.

One node per record; a long `text` record is split into chunks, one node each.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from corpus import Format, Record

UNDATED = 0  # the date int of a record without a date: it passes every `as_of` filter


class NodeSpec(BaseModel):
    """One node to embed and store."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    metadata: dict[str, str | int]
    vector: tuple[float, ...] | None = None  # already embedded (a question, for fact identity)


def node_id(record_id: str, chunk: int) -> str:
    """The chroma id of a record's chunk; injective, so deletes and updates are exact.

    >>> node_id("faq-1", 0)
    'faq-1#0'
    >>> node_id("a#1", 0), node_id("a", 1)  # the chunk is always after the last "#"
    ('a#1#0', 'a#1')
    """
    return f"{record_id}#{chunk}"


def date_int(day: date | None) -> int:
    """A date as an int a chroma `where` can compare; no date is 0.

    >>> date_int(date(2026, 3, 1)), date_int(None)
    (20260301, 0)
    """
    return UNDATED if day is None else day.year * 10_000 + day.month * 100 + day.day


def int_date(value: int) -> date | None:
    """The date of a `date_int`; 0 is no date.

    >>> int_date(20260301), int_date(0)
    (datetime.date(2026, 3, 1), None)
    """
    if value == UNDATED:
        return None
    return date(value // 10_000, value // 100 % 100, value % 100)


def record_answer(record: Record) -> str:
    """What an extractive answer returns for a record: its answer, label or text."""
    if record.answer is not None:
        return record.answer
    if record.label is not None:
        return record.label
    return record.text or ""


def record_texts(record: Record, chunk_size: int, chunk_overlap: int) -> list[str]:
    """What gets embedded: the question with its context and answer, the classified text, or
    text chunks.

    The answer is embedded with the question because it carries the words a paraphrased question
    shares with the fact (names, numbers, terms): on the demo eval it raised hit@1 from 0.68 to
    0.77 and hit@5 from 0.87 to 0.93 (with keyword scores fused for Cyrillic queries).
    """
    if record.is_qa:
        answer = record.answer or ""
        return [f"{record.prompt_text()}\n{answer}" if answer else record.prompt_text()]
    if record.format is Format.CLASSIFICATION:
        return [record.text or ""]
    text = record.text or ""
    if len(text) < chunk_size * 2:  # a token is at least ~2 characters: short texts stay whole
        return [text]
    return _splitter(chunk_size, chunk_overlap).split_text(text) or [text]


def record_nodes(record: Record, chunk_size: int = 200, chunk_overlap: int = 20) -> list[NodeSpec]:
    """The nodes of one record, with the metadata every hit carries back."""
    texts = record_texts(record, chunk_size, chunk_overlap)
    base: dict[str, str | int] = {
        "record_id": record.id,
        "format": str(record.format),
        "batch": record.batch or "",
        "as_of": record.as_of.isoformat() if record.as_of else "",
        "source": f"{record.source.file}:{record.source.line}",
        "content_hash": record.content_hash,
        "answer": record_answer(record),
        "chunks": len(texts),
    }
    return [
        NodeSpec(id=node_id(record.id, i), text=text, metadata={**base, "chunk": i})
        for i, text in enumerate(texts)
    ]


@cache
def _splitter(chunk_size: int, chunk_overlap: int) -> Any:
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size, chunk_overlap=min(chunk_overlap, chunk_size // 2)
    )
