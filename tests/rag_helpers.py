"""Helpers for the retrieval tests: corpora written as real JSONL, settings, index read-back."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from corpus import Record, current_records, load_corpus
from rag.layout import node_fields
from rag.manifest import read_manifest
from rag.nodes import record_nodes
from rag.settings import RagSettings
from rag.store import iter_pages, open_client, open_collection

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PYTHON = sys.executable


def write_batch(folder: Path, day: str, lines: Sequence[dict[str, Any]], name: str = "faq") -> Path:
    """One dated batch file, as a team would drop it in the corpus folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day}-{name}.jsonl"
    path.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
    )
    return path


def qa(record_id: str, question: str, answer: str, **extra: Any) -> dict[str, Any]:
    """A prompt/completion line."""
    return {"id": record_id, "prompt": question, "completion": answer, **extra}


# two plain facts most retrieval tests start from: a price and a warranty
PRICE_AND_WARRANTY = [
    qa(
        "price-pro",
        "How much does the Pro plan cost per month?",
        "The Pro plan costs 15 EUR per month.",
    ),
    qa("warranty", "How long is the hardware warranty?", "Two years."),
]


def load(folder: Path) -> list[Record]:
    """Every record of a corpus folder (the loader is the one the CLI uses)."""
    report = load_corpus([folder])
    assert not report.rejects, [str(r) for r in report.rejects]
    return report.records


def settings_for(work: Path, **changes: Any) -> RagSettings:
    """Settings with no .env file read, an index under `work`, and quick lock timeouts."""
    values: dict[str, Any] = {"work_dir": work, "lock_timeout_s": 5.0, **changes}
    return RagSettings(_env_file=None, **values)


def index_state(settings: RagSettings) -> dict[str, tuple[str, int]]:
    """What the collection the manifest names actually holds: for each indexed version, the id
    of the record it embeds -> (content hash, node count); fails on a half-written version."""
    manifest = read_manifest(settings.work_dir)
    name = manifest.collection if manifest is not None else settings.collection
    collection = open_collection(open_client(settings), name)
    versions: dict[str, list[dict[str, Any]]] = {}
    for page in iter_pages(collection, ["metadatas"]):
        for meta in page["metadatas"]:
            versions.setdefault(str(meta["entry"]), []).append(node_fields(meta))
    state: dict[str, tuple[str, int]] = {}
    for entry, nodes in versions.items():
        chunks = sorted(int(m["chunk"]) for m in nodes)
        assert chunks == list(range(int(nodes[0]["chunks"]))), f"{entry} is half-written: {chunks}"
        assert len({m["content_hash"] for m in nodes}) == 1, f"{entry} mixes contents"
        record_id = str(nodes[0]["record_id"])
        assert record_id not in state, f"{record_id} has two versions: use another check"
        state[record_id] = (str(nodes[0]["content_hash"]), len(nodes))
    return state


def expected_state(records: Sequence[Record], settings: RagSettings) -> dict[str, tuple[str, int]]:
    """What the index must hold for a corpus whose every record is a fact of its own: each
    record, its text chunks and, for a question-answer record, the node of its question."""
    newest = current_records(records)
    assert len(newest) == len(records), "a record id repeats: expected_state cannot tell versions"
    size, overlap = settings.chunk_size, settings.chunk_overlap
    return {
        r.id: (r.content_hash, len(record_nodes(r, size, overlap)) + (1 if r.is_qa else 0))
        for r in records
    }


def synthetic_lines(n: int, start: int = 0, version: str = "") -> list[dict[str, Any]]:
    """`n` distinct prompt/completion lines (ids r{start}..), for large-ish corpora."""
    return [
        qa(
            f"r{i}",
            f"Question {i}{version}: what is the setting number {i} of module {i % 97} in region {i % 13}?",
            f"Setting {i} is {i * 7 % 1000}{version}.",
        )
        for i in range(start, start + n)
    ]


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
