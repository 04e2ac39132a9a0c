"""The stored layout: few flat keys per node, every field in the node JSON — read back whole by
this project's hits and by llama-index's own chroma store, through a later batch's restamp."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore

from corpus import Record
from rag.build import rebuild_index
from rag.index import RagIndex
from rag.layout import FLAT_KEYS, NODE_KEYS, node_fields, stored_metadata, with_facts
from rag.manifest import read_manifest
from rag.nodes import date_int, record_nodes
from rag.settings import RagSettings
from rag.store import iter_pages, open_client, open_collection
from tests.rag_helpers import ROOT, load, qa, settings_for, write_batch

FORMATS = ROOT / "tests" / "data" / "formats"
FIELDS = ("record_id", "format", "batch", "as_of", "source", "content_hash", "answer")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[RagSettings, list[Record]]:
    """One index over every trainer format the tests ship (Russian and English, chats, texts)."""
    corpus = tmp_path_factory.mktemp("formats")
    for path in sorted(FORMATS.glob("*.jsonl")):
        shutil.copy(path, corpus / path.name)
    records = load(corpus)
    settings = settings_for(tmp_path_factory.mktemp("index"))
    rebuild_index(records, settings)
    return settings, records


def stored(settings: RagSettings) -> dict[str, tuple[str, dict, list[float]]]:
    """node id -> (document, flat metadata, vector) of the live collection."""
    manifest = read_manifest(settings.work_dir)
    assert manifest is not None
    collection = open_collection(open_client(settings), manifest.collection)
    return {
        node: (text, dict(meta), list(vector))
        for page in iter_pages(collection, ["documents", "metadatas", "embeddings"])
        for node, text, meta, vector in zip(
            page["ids"], page["documents"], page["metadatas"], page["embeddings"], strict=True
        )
    }


def test_only_filter_keys_are_flat_and_every_field_is_in_the_node(built) -> None:
    settings, records = built
    rows = stored(settings)
    assert len(rows) >= len(records)
    by_id = {r.id: r for r in records}
    for node, (_, meta, _) in rows.items():
        assert set(meta) <= FLAT_KEYS | set(NODE_KEYS), f"{node}: {sorted(set(meta) - FLAT_KEYS)}"
        fields = node_fields(meta)
        record = by_id[str(fields["record_id"])]
        spec = record_nodes(record)[0]  # the record's own fields (a question node adds a chunk)
        assert {k: fields[k] for k in FIELDS} == {k: spec.metadata[k] for k in FIELDS}
        assert 0 <= int(fields["chunk"]) < int(fields["chunks"])


def test_llama_index_reads_every_node_back_whole(built) -> None:
    """A team that opens the collection with llama-index's own store gets text and fields."""
    settings, _ = built
    manifest = read_manifest(settings.work_dir)
    assert manifest is not None
    collection = open_collection(open_client(settings), manifest.collection)
    store = ChromaVectorStore(chroma_collection=collection)
    rows = stored(settings)
    for node_id, (text, meta, vector) in list(rows.items())[:: max(1, len(rows) // 12)]:
        got = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=1))
        assert got.ids == [node_id]
        node = got.nodes[0]
        assert node.get_content() == text
        assert node.metadata == {k: v for k, v in node_fields(meta).items() if k not in NODE_KEYS}


def test_hits_carry_every_field_from_the_node_json(built) -> None:
    settings, records = built
    index = RagIndex.open(settings)
    record = next(r for r in records if r.answer and r.id == "pc-1")
    hit = index.retrieve(record.prompt_text(), k=1)[0]
    assert (hit.record_id, hit.answer) == ("pc-1", "Париж")
    assert hit.metadata["source"].endswith("prompt_completion.jsonl:1")
    assert hit.metadata["format"] == str(record.format)


def test_a_later_batch_ends_a_version_in_the_node_json(tmp_path: Path) -> None:
    """The restamp of an incremental rebuild writes the end date where readers look."""
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(
        corpus, "2026-03-01", [qa("fee", "What is the monthly fee of plan Lark?", "4 EUR.")]
    )
    settings = settings_for(work)
    rebuild_index(load(corpus), settings)
    write_batch(
        corpus, "2026-09-01", [qa("fee", "What is the monthly fee of plan Lark?", "6 EUR.")]
    )
    rebuild_index(load(corpus), settings)
    rows = stored(settings)
    fields = sorted((node_fields(m) for _, m, _ in rows.values()), key=lambda f: f["valid_from"])
    assert [f["valid_until"] for f in fields if f["chunk"] == 0] == [20260901, 99991231]
    assert all("valid_until" not in m for _, m, _ in rows.values())
    hits = RagIndex.open(settings).retrieve("monthly fee of plan Lark", k=2)
    old = next(h for h in hits if h.answer == "4 EUR.")
    assert old.stale and old.held_until is not None and date_int(old.held_until) == 20260901


def test_an_index_stored_with_every_key_flat_reads_and_restamps_the_same() -> None:
    """Indexes written before the keys were trimmed keep their flat copies current."""
    node = {"metadata": {"record_id": "fee", "valid_until": 99991231, "answer": "4 EUR."}}
    old = {"record_id": "fee", "valid_until": 99991231, "answer": "4 EUR.",
           "_node_content": json.dumps(node), "_node_type": "TextNode"}  # fmt: skip
    new = {"_node_content": json.dumps(node), "_node_type": "TextNode"}
    for meta in (old, new):
        out = with_facts(meta, {"valid_until": 20260901, "superseded_by": "fee@2"})
        assert node_fields(out)["valid_until"] == 20260901
        assert node_fields(out)["superseded_by"] == "fee@2"
        assert node_fields(out)["answer"] == "4 EUR."
        assert ("valid_until" in out) == ("valid_until" in meta)  # flat only where it was
    stale_flat = {**old, "valid_until": 1}  # the JSON is what restamps always kept current
    assert node_fields(stale_flat)["valid_until"] == 99991231
    assert node_fields({"answer": "x", "_node_content": "not json"}) == {
        "answer": "x",
        "_node_content": "not json",
    }


def test_the_stored_node_is_what_llama_index_writes_for_every_format() -> None:
    """The node JSON is written without llama-index (a rebuild then never imports it), and is
    exactly what its `node_to_metadata_dict` writes, for every trainer format's nodes."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    records = load(FORMATS)
    specs = [spec for record in records for spec in record_nodes(record)]
    files = {r.source.file for r in records}
    assert len(files) == len(list(FORMATS.glob("*.jsonl"))), "a format's file gave no record"
    specs += [  # question nodes, with fact fields a rebuild adds (names in Russian, numbers)
        spec.model_copy(update={"metadata": {**spec.metadata, "names": "14\nпаром", "chunk": 1}})
        for record in records
        if record.is_qa
        for spec in record_nodes(record)
    ]
    for n, spec in enumerate(specs):
        node_id = f"{spec.id}@{n}"
        node = TextNode(id_=node_id, text=spec.text, metadata={**spec.metadata, "rev": 7})
        theirs = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
        expected = {k: v for k, v in theirs.items() if k in FLAT_KEYS or k in NODE_KEYS}
        ours = stored_metadata(node_id, spec, 7)
        assert ours == expected, node_id
        assert list(ours) == list(expected), node_id  # the same key order too


def test_the_rebuild_command_never_imports_llama_index(tmp_path: Path) -> None:
    """A scheduled `python -m rag.rebuild` runs in a process of its own: importing llama-index
    there cost 1.0-1.2 s before its first add, for a node JSON it writes itself (above)."""
    import subprocess

    from tests.rag_helpers import ENV, PYTHON

    write_batch(tmp_path / "corpus", "2026-03-01", [qa("ferry", "Ferry price?", "14 EUR.")])
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['rag.rebuild', '--corpus', sys.argv[1], '--work', sys.argv[2], '--quiet']\n"
        "try:\n"
        "    runpy.run_module('rag.rebuild', run_name='__main__')\n"
        "except SystemExit as end:\n"
        "    assert not end.code, end.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('llama_index')))\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", probe, str(tmp_path / "corpus"), str(tmp_path / "index")],
        capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = done.stdout.strip().splitlines()[-1]
    assert imported == "[]", f"the rebuild imported llama-index: {imported[:300]}"
    assert read_manifest(tmp_path / "index") is not None
