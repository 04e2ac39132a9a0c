"""Rejected (DPO) and undesirable (KTO) answers reach neither the index nor the training turns."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus import load_corpus
from rag.build import rebuild_index
from rag.layout import node_fields
from rag.manifest import read_manifest
from rag.store import iter_pages, open_client, open_collection
from tests.conftest import ROOT
from tests.rag_helpers import settings_for
from tests.test_corpus_shapes import NEVER
from tuning.data import trainable_turns

SHAPES = ROOT / "tests" / "data" / "shapes"


@pytest.mark.parametrize("name", sorted(NEVER))
def test_dropped_answers_are_never_indexed_or_trained_on(name: str, tmp_path: Path) -> None:
    records = load_corpus(SHAPES / name).records
    settings = settings_for(tmp_path / "index")
    rebuild_index(records, settings)
    manifest = read_manifest(settings.work_dir)
    assert manifest is not None and manifest.nodes > 0
    collection = open_collection(open_client(settings), manifest.collection)
    stored = " ".join(
        f"{text} {node_fields(meta)}"
        for page in iter_pages(collection, ["documents", "metadatas"])
        for text, meta in zip(page["documents"], page["metadatas"], strict=True)
    )
    trained = " ".join(t.content for r in records for t in trainable_turns(r))
    assert trained  # the desirable answers are trained on
    for words in NEVER[name]:
        assert words not in stored, f"{words!r} was indexed"
        assert words not in trained, f"{words!r} would be trained on"
    # and what was kept is there: every record's answer is in the index
    assert all(r.answer and r.answer in stored for r in records if r.answer)
