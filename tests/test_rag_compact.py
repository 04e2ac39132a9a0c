"""Deleted nodes counted by every rebuild, and the live ones moved to a fresh graph once they
crowd it (`rag.compact`): nothing embedded again, readers see the same index, a copy killed half
way is redone by the next rebuild."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rag.build as build
import rag.compact as compact
from rag.build import rebuild_index
from rag.index import RagIndex
from rag.manifest import read_manifest
from rag.settings import RagSettings
from rag.store import generations, iter_pages, open_client, open_collection
from tests.rag_helpers import index_state, load, qa, settings_for, write_batch

PEOPLE = ["Ilse Varga", "Tomás Ferreira", "Aino Korhonen", "Dmitri Volkov", "Mei Lin"]


def people(corpus: Path, changed: range = range(0), again: range = range(0)) -> list:
    """30 badge records of people with numbers and dates; `changed` and `again` rewrite some."""
    lines = []
    for i in range(30):
        who = f"{PEOPLE[i % len(PEOPLE)]} ({i})"
        answer = f"Badge {4000 + i * 17}, issued 2023-0{i % 9 + 1}-12."
        if i in changed:
            answer = f"Badge {7000 + i * 17}, reissued 2024-0{i % 9 + 1}-03."
        if i in again:
            answer = f"Badge {9000 + i * 17}, reissued 2025-0{i % 9 + 1}-21 after a loss."
        lines.append(qa(f"badge-{i}", f"What is the badge number of {who}?", answer))
    write_batch(corpus, "2026-01-05", lines, name="badges")
    return load(corpus)


def graph_folders(settings: RagSettings) -> list[str]:
    """The HNSW folders in an embedded store (one per collection with vectors)."""
    return sorted(p.name for p in (settings.work_dir / "chroma").iterdir() if p.is_dir())


def stored_vectors(settings: RagSettings) -> dict[str, np.ndarray]:
    manifest = read_manifest(settings.work_dir)
    assert manifest is not None
    collection = open_collection(open_client(settings), manifest.collection)
    return {
        node: np.asarray(vector)
        for page in iter_pages(collection, ["embeddings"])
        for node, vector in zip(page["ids"], page["embeddings"], strict=True)
    }


@pytest.fixture(autouse=True)
def small_graphs_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """These indexes hold 60 nodes: let a few deleted ones count (10,000 at least by default)."""
    monkeypatch.setattr(compact, "MIN_DELETED", 1)


def test_deleted_nodes_crowding_the_graph_move_the_live_ones_to_a_fresh_one(
    tmp_path: Path, store_url: str | None
) -> None:
    corpus = tmp_path / "corpus"
    settings = settings_for(
        tmp_path / "w", compact_at=0.6, chroma_url=store_url, retire_after_s=0.1
    )
    rebuild_index(people(corpus), settings)
    first = read_manifest(settings.work_dir)
    assert first is not None and first.deleted_nodes == 0 and first.nodes == 60

    # 10 of 30 records change: their 20 nodes are deleted, and stay in the graph
    summary = rebuild_index(people(corpus, changed=range(10)), settings)
    second = read_manifest(settings.work_dir)
    assert second is not None and summary.updated == 10
    assert second.deleted_nodes == 20, "a replaced record's nodes were not counted"
    assert second.collection == first.collection and not summary.compacted
    before = stored_vectors(settings)
    index = RagIndex.open(settings)
    question = "What is the badge number of Aino Korhonen (22)?"
    expected = [hit.record_id for hit in index.retrieve(question)]

    # 10 more: 40 deleted >= 0.6 x 60 live, so the live nodes move to a fresh graph
    summary = rebuild_index(people(corpus, changed=range(10), again=range(10, 20)), settings)
    third = read_manifest(settings.work_dir)
    assert third is not None
    assert summary.compacted == 40 and summary.embedded_nodes == 20, summary.line()
    assert "fresh graph" in summary.line()
    assert third.deleted_nodes == 0 and third.nodes == 60
    assert third.generation == first.generation + 1 and summary.generation == third.generation
    assert list(generations(open_client(settings), settings.collection)) == [third.collection]
    if store_url is None:  # a server's disk is the server's
        assert len(graph_folders(settings)) == 1, "the old graph was left on disk"
    assert index_state(settings) == {
        f"badge-{i}": (r.content_hash, 2) for i, r in enumerate(load(corpus))
    }
    after = stored_vectors(settings)
    kept = [node for node in after if node in before]  # records 0-9 and 20-29: copied, not embedded
    assert len(kept) == 40
    for node in kept:  # chroma normalises a cosine vector again as it adds it: the last bits
        np.testing.assert_allclose(after[node], before[node], atol=1e-6, err_msg=node)
    assert [hit.record_id for hit in index.retrieve(question)] == expected, (
        "a reader lost its place"
    )


def test_a_copy_killed_half_way_is_redone_by_the_next_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    settings = settings_for(tmp_path / "w", compact_at=0.3)
    rebuild_index(people(corpus), settings)
    live = read_manifest(settings.work_dir)
    assert live is not None

    def dies(source, target, manifest, batch, progress=None) -> int:
        page = target.get(limit=1)
        assert not page["ids"]
        target.add(ids=["half-written"], embeddings=[[0.0] * live.dimension], documents=["x"])
        raise KeyboardInterrupt  # what a kill in the middle of the copy leaves

    monkeypatch.setattr(build, "copy_live", dies)
    with pytest.raises(KeyboardInterrupt):
        rebuild_index(people(corpus, changed=range(10)), settings)
    manifest = read_manifest(settings.work_dir)
    assert manifest is not None and manifest.collection == live.collection
    assert manifest.deleted_nodes == 20
    assert (settings.work_dir / "build-in-progress.json").exists()
    monkeypatch.setattr(build, "copy_live", compact.copy_live)

    summary = rebuild_index(people(corpus, changed=range(10)), settings)
    final = read_manifest(settings.work_dir)
    assert final is not None and summary.compacted == 20, summary.line()
    assert summary.embedded_nodes == 0
    assert list(generations(open_client(settings), settings.collection)) == [final.collection]
    assert index_state(settings) == {
        f"badge-{i}": (r.content_hash, 2) for i, r in enumerate(load(corpus))
    }


def test_a_new_generation_leaves_no_graph_of_the_old_one_on_disk(tmp_path: Path) -> None:
    # chroma drops a collection's rows but not its graph folder (chroma-core/chroma#5259)
    corpus = tmp_path / "corpus"
    settings = settings_for(tmp_path / "w")
    records = people(corpus)
    rebuild_index(records, settings)
    client = open_client(settings)
    other = open_collection(client, "another-apps-notes")  # not ours: kept whatever happens
    other.add(ids=["n1"], embeddings=[[0.1] * 512], documents=["a note"])
    before = graph_folders(settings)
    assert len(before) == 2
    for _ in range(2):
        rebuild_index(records, settings, full=True)
    after = graph_folders(settings)
    assert len(after) == 2, after
    assert other.count() == 1 and open_collection(client, "another-apps-notes").get()["ids"] == [
        "n1"
    ]
