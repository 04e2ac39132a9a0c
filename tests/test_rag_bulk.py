"""Bulk writes and the HNSW graph settings, against a real embedded chroma store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.bulk import CHILD_BATCH, BulkWriter, max_batch, write_size
from rag.store import Hnsw, apply_hnsw, held_hnsw, open_client, open_collection
from tests.rag_helpers import settings_for


def rows(n: int, start: int = 0) -> tuple[list[str], np.ndarray, list[dict[str, Any]], list[str]]:
    rng = np.random.default_rng(start)
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    ids = [f"n{i}" for i in range(start, start + n)]
    return ids, vectors, [{"i": i} for i in range(start, start + n)], [f"text {i}" for i in ids]


def test_rows_arrive_whole_and_in_order_in_batches_of_the_size_asked(tmp_path: Path) -> None:
    client = open_client(settings_for(tmp_path))
    collection = open_collection(client, "bulk-test")
    calls: list[int] = []
    real_add = collection.add

    def counted_add(**kwargs: Any) -> None:
        calls.append(len(kwargs["ids"]))
        real_add(**kwargs)

    collection.add = counted_add
    with BulkWriter(collection, size=40) as writer:
        for start in range(0, 100, 30):
            writer.add(*rows(min(30, 100 - start), start))
    assert calls == [40, 40, 20] and writer.written == 100
    got = collection.get(ids=["n0", "n57", "n99"], include=["metadatas", "documents"])
    assert [m["i"] for m in got["metadatas"]] == [0, 57, 99]
    assert max_batch(client) >= 1_000


def test_a_child_gets_smaller_adds_unless_the_change_fits_one(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    client = open_client(settings)
    largest, child = max_batch(client), object()
    assert write_size(client, settings, None) == largest
    assert write_size(client, settings, child) == CHILD_BATCH  # adds overlap the child's encoding
    assert write_size(client, settings, child, nodes=largest + 1) == CHILD_BATCH
    assert write_size(client, settings, child, nodes=4_000) == largest  # one add, at the end


def test_a_failed_add_is_raised_not_lost(tmp_path: Path) -> None:
    collection = open_collection(open_client(settings_for(tmp_path)), "bulk-test")
    ids, vectors, metas, docs = rows(4)
    writer = BulkWriter(collection, size=8)
    writer.add(ids, vectors, metas, docs)
    writer.add(ids[:1], vectors[:1], metas[:1], docs[:1])  # the same id twice in one add
    with pytest.raises(Exception, match=r"(?i)duplicate|n0"):
        writer.flush()
    writer.close()


def test_uneven_rows_are_refused(tmp_path: Path) -> None:
    collection = open_collection(open_client(settings_for(tmp_path)), "bulk-test")
    ids, vectors, metas, docs = rows(3)
    with BulkWriter(collection, size=8) as writer, pytest.raises(ValueError, match="differ"):
        writer.add(ids, vectors[:2], metas, docs)


def test_a_new_collection_gets_the_graph_asked_and_a_live_one_its_search_width(
    tmp_path: Path,
) -> None:
    client = open_client(settings_for(tmp_path))
    wanted = Hnsw(m=24, ef_construction=150, ef_search=300)
    assert held_hnsw(open_collection(client, "graph-test", wanted)) == wanted
    assert apply_hnsw(client.get_collection("graph-test"), wanted) == ""
    wider = Hnsw(m=24, ef_construction=150, ef_search=500)
    note = apply_hnsw(client.get_collection("graph-test"), wider)
    assert "300 -> 500" in note and held_hnsw(client.get_collection("graph-test")) == wider
    other = Hnsw(m=32, ef_construction=200, ef_search=500)
    note = apply_hnsw(client.get_collection("graph-test"), other)
    assert "M=24" in note and "--full" in note  # the built graph stays until a full rebuild
    assert held_hnsw(client.get_collection("graph-test")).m == 24
