"""Build, incremental updates, full rebuild, reopening, dates and stale facts — on a real index."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from corpus import Record
from rag.build import rebuild_index
from rag.embedding import (
    Embedder,
    TextEmbedder,
    load_embedder,
    load_sentence_transformer,
    minilm_path,
)
from rag.errors import IndexBusyError, IndexNotBuiltError
from rag.facts import names
from rag.hits import Hit
from rag.index import RagIndex, by_names
from rag.manifest import LOCK, MARKER, RebuildSummary, read_manifest
from rag.nodes import node_id
from rag.store import Hnsw, held_hnsw, open_client
from tests.rag_helpers import (
    ENV,
    PYTHON,
    ROOT,
    expected_state,
    index_state,
    load,
    qa,
    settings_for,
    write_batch,
)

MARCH = [
    qa("price-pro-mar", "How much does the Pro plan cost per month?", "12 EUR per month."),
    qa("warranty", "How long is the hardware warranty?", "Two years."),
    {"id": "ru-basic", "instruction": "Сколько стоит тариф Базовый?", "output": "5 евро в месяц."},
    {"id": "ticket", "text": "My upload fails with error 500", "label": "bug"},
    {
        "id": "regions",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Which regions store my files?"},
            {"role": "assistant", "content": "Frankfurt, Dublin and Helsinki."},
        ],
    },
]
SEPTEMBER = [
    qa("price-pro-sep", "What is the monthly price of the Pro plan?", "15 EUR per month."),
]
LONG_TEXT = " ".join(
    f"Paragraph {i}: the archive tier keeps cold data for {i} years in sealed vaults near the sea."
    for i in range(60)
)


@pytest.fixture(scope="session")
def embedder() -> TextEmbedder:
    """The packaged default, loaded once for the whole session (every later load hits the cache)."""
    return load_embedder(None)


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The packaged sentence-transformers model, whose single queries take a shorter path."""
    return load_sentence_transformer(minilm_path())


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    write_batch(folder, "2026-03-01", MARCH)
    write_batch(folder, "2026-09-01", SEPTEMBER)
    return folder


def build(folder: Path, work: Path, full: bool = False) -> tuple[list[Record], RebuildSummary]:
    records = load(folder)
    return records, rebuild_index(records, settings_for(work), full=full)


def test_build_matches_corpus_and_manifest(
    corpus_dir: Path, tmp_path: Path, embedder: TextEmbedder
) -> None:
    work = tmp_path / "index"
    records, summary = build(corpus_dir, work)
    settings = settings_for(work)
    assert summary.added == 6 and summary.unchanged == summary.updated == summary.deleted == 0
    assert index_state(settings) == expected_state(records, settings)
    manifest = read_manifest(work)
    assert manifest is not None
    assert manifest.dimension == embedder.dimension == 512  # USE multilingual
    # one entry per version of a fact, keyed by the record it starts with and its first day
    assert {key: (e.record_id, e.hash) for key, e in manifest.records.items()} == {
        f"{r.id}@{r.as_of:%Y%m%d}": (r.id, r.content_hash) for r in records
    }
    assert manifest.newest_as_of == date(2026, 9, 1)
    assert manifest.records["warranty@20260301"].as_of == date(2026, 3, 1)
    assert manifest.content_hashes() == {r.content_hash for r in records}
    assert manifest.embedding_tokens > 0 and manifest.last_rebuild == summary
    assert not (work / MARKER).exists()


def test_incremental_add_change_delete(
    corpus_dir: Path, tmp_path: Path, embedder: TextEmbedder
) -> None:
    work = tmp_path / "index"
    build(corpus_dir, work)
    opened = RagIndex.open(settings_for(work))
    assert not opened.is_outdated()
    write_batch(
        corpus_dir,
        "2026-03-01",
        [
            *[line for line in MARCH if line["id"] not in {"warranty", "ticket"}],  # two deleted
            qa("price-pro-mar", "How much does the Pro plan cost per month?", "13 EUR per month."),
            qa("support", "How do I reach support?", "Write to help@example.com."),  # added
        ][1:],  # drop the first (old) price line: the changed one replaces it
    )
    records = load(corpus_dir)
    manifest = read_manifest(work)
    assert manifest is not None
    assert manifest.pending((r.id, r.content_hash) for r in records) == (1, 1, 2)
    records, summary = build(corpus_dir, work)
    assert (summary.added, summary.updated, summary.deleted, summary.unchanged) == (1, 1, 2, 3)
    assert opened.is_outdated()  # a reader can tell a newer build exists and reopen
    settings = settings_for(work)
    assert index_state(settings) == expected_state(records, settings)
    hit = RagIndex.open(settings).retrieve("Pro plan price per month", k=5, as_of=date(2026, 6, 1))[
        0
    ]
    assert (hit.record_id, hit.answer) == ("price-pro-mar", "13 EUR per month.")

    _, again = build(corpus_dir, work)  # nothing changed: nothing embedded
    assert (again.unchanged, again.embedded_nodes) == (len(records), 0)


def test_full_rebuild_replaces_everything(
    corpus_dir: Path, tmp_path: Path, embedder: TextEmbedder
) -> None:
    work = tmp_path / "index"
    build(corpus_dir, work)
    records, summary = build(corpus_dir, work, full=True)
    settings = settings_for(work)
    assert summary.full and summary.added == len(records)
    assert index_state(settings) == expected_state(records, settings)


def test_the_graph_settings_reach_the_collection_and_a_changed_width_the_live_one(
    corpus_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    work = tmp_path / "index"
    narrow = settings_for(work, hnsw_m=12, hnsw_ef_construction=60, hnsw_ef_search=40)
    rebuild_index(load(corpus_dir), narrow)

    def held() -> Hnsw:
        live = read_manifest(work)
        assert live is not None
        return held_hnsw(open_client(narrow).get_collection(live.collection))

    assert held() == Hnsw(12, 60, 40)
    wider = narrow.model_copy(update={"hnsw_ef_search": 90, "hnsw_m": 24})
    summary = rebuild_index(load(corpus_dir), wider)  # nothing else changed
    assert held() == Hnsw(12, 60, 90) and summary.embedded_nodes == 0
    assert "search width 40 -> 90" in summary.line() and "--full" in summary.line()
    full = rebuild_index(load(corpus_dir), wider, full=True)
    assert full.full and held() == Hnsw(24, 60, 90) and "search width" not in full.line()


def test_long_text_is_split_into_chunks_and_returns_one_hit(
    tmp_path: Path, embedder: TextEmbedder
) -> None:
    folder = tmp_path / "corpus"
    write_batch(folder, "2026-03-01", [{"id": "archive", "text": LONG_TEXT}, *MARCH])
    records, _ = build(folder, tmp_path / "index")
    settings = settings_for(tmp_path / "index")
    state = index_state(settings)
    assert state["archive"][1] > 1 and state == expected_state(records, settings)
    hits = RagIndex.open(settings).retrieve("how long does the archive tier keep cold data", k=5)
    assert hits[0].record_id == "archive"
    assert len({h.record_id for h in hits}) == len(hits)


def test_reopen_in_a_new_process(corpus_dir: Path, tmp_path: Path, embedder: TextEmbedder) -> None:
    work = tmp_path / "index"
    build(corpus_dir, work)
    script = (
        "import json, sys\n"
        "from corpus.offline import use_offline_defaults; use_offline_defaults()\n"
        "from rag.index import RagIndex\nfrom rag.settings import RagSettings\n"
        f"index = RagIndex.open(RagSettings(_env_file=None, work_dir={str(work)!r}))\n"
        "hits = index.retrieve('Which regions keep my files?', k=2)\n"
        "print(json.dumps([h.record_id for h in hits]))\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", script], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])[0] == "regions"


def test_as_of_limits_results_to_what_was_known(
    corpus_dir: Path, tmp_path: Path, embedder: TextEmbedder
) -> None:
    build(corpus_dir, tmp_path / "index")
    index = RagIndex.open(settings_for(tmp_path / "index"))
    before = index.retrieve("What does the Pro plan cost?", k=10, as_of=date(2026, 6, 30))
    assert before and all(h.as_of is not None and h.as_of <= date(2026, 6, 30) for h in before)
    assert "price-pro-sep" not in {h.record_id for h in before}
    assert index.retrieve("What does the Pro plan cost?", k=10, as_of=date(2025, 1, 1)) == []
    after = index.retrieve("What does the Pro plan cost?", k=10, as_of=date(2026, 9, 1))
    assert "price-pro-sep" in {h.record_id for h in after}


@pytest.mark.parametrize("hybrid", ["on", "off"])
def test_newer_fact_wins_a_near_tie_and_the_old_one_is_stale(
    corpus_dir: Path, tmp_path: Path, embedder: TextEmbedder, hybrid: str
) -> None:
    build(corpus_dir, tmp_path / "index")
    index = RagIndex.open(settings_for(tmp_path / "index", hybrid=hybrid))
    # worded like the March record, so the stale one is the closer match by score
    hits = index.retrieve("How much does the Pro plan cost per month?", k=3)
    by_id = {h.record_id: h for h in hits}
    assert by_id["price-pro-mar"].score > by_id["price-pro-sep"].score
    assert hits[0].record_id == "price-pro-sep" and not hits[0].stale
    assert by_id["price-pro-mar"].stale and by_id["price-pro-mar"].superseded_by == "price-pro-sep"
    assert not by_id.get("warranty", hits[0]).stale  # a different question is never stale


def test_second_rebuild_refuses_while_the_lock_is_held(corpus_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "index"
    work.mkdir()
    with FileLock(str(work / LOCK)), pytest.raises(IndexBusyError, match="another rebuild"):
        rebuild_index(load(corpus_dir), settings_for(work, lock_timeout_s=0.5))
    assert read_manifest(work) is None


def test_open_without_a_manifest_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuiltError, match=r"rag\.rebuild"):
        RagIndex.open(settings_for(tmp_path / "nothing"))


def test_node_ids_are_injective() -> None:
    pairs = [("a", 1), ("a#1", 0), ("a#", 10), ("a", 10), ("a#1#0", 0)]
    assert len({node_id(r, c) for r, c in pairs}) == len(pairs)
    assert [node_id(r, c).rsplit("#", 1)[0] for r, c in pairs] == [r for r, _ in pairs]


@pytest.mark.parametrize(
    "query",
    [
        "How much does the Pro plan cost per month?",
        "Сколько стоит тариф Pro в месяц?",
        "x",
        "storage " * 400,  # past the model's 256-token window: truncated the same way
    ],
)
def test_the_query_fast_path_gives_the_same_vector_as_encode(minilm: Embedder, query: str) -> None:
    assert minilm.fast_query, "the packaged model is transformer + mean pooling + normalize"
    fast = minilm.encode_query(query)
    general = minilm.encode([query])[0]
    assert fast.dtype == general.dtype == np.float32 and fast.shape == general.shape
    assert np.allclose(fast, general, atol=1e-5)


def qa_hit(record_id: str, score: float, question: str, answer: str) -> Hit:
    """A question-only node's hit, as the index makes it: its question's names, its answer."""
    return Hit(
        record_id=record_id,
        score=score,
        rank=score,
        text=question,
        answer=answer,
        names=names(question),
    )


def test_a_hit_whose_answer_names_what_was_asked_is_not_lowered() -> None:
    # asked for "TOR-1"; the record's question says Toronto, its answer says TOR-1
    toronto = qa_hit(
        "tor-launch",
        0.52,
        "When did the Toronto region open?",
        "The Toronto region TOR-1 opened on 16 June 2026.",
    )
    other = qa_hit(
        "release-notes", 0.43, "What is new in release 4.5?", "The Family plan is supported."
    )
    asked = names("When did the TOR-1 region go live?")
    ranked = by_names([toronto, other], asked, 0.1)
    assert [h.record_id for h in ranked] == ["tor-launch", "release-notes"]
    assert ranked[0].rank == 0.52 and ranked[1].rank == pytest.approx(0.33)
