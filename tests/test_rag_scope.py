"""Incremental fact identity: deciding again only what a change reaches gives exactly the fact
versions a from-scratch pass over the changed corpus gives, and touches little of the corpus."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpus import Record
from rag.build import rebuild_index
from rag.embedding import load_embedder
from rag.factstate import FactState
from rag.manifest import read_manifest
from rag.scope import decide_again, rules_key
from rag.settings import RagSettings
from rag.versions import FactVersions, fact_versions
from tests.rag_helpers import load, qa, settings_for, write_batch

# the fixture's links (a reworded restatement, one answer form) were written against MiniLM's
# cosines; what is checked is that deciding a change equals deciding everything, for any embedder
MODEL = "packaged:minilm"
DOORS = 12  # independent facts, each naming its own door: a change to one must not reach others

Y2011 = [
    qa("scopes", "How many telescopes does the Verrin observatory run?", "7"),
    qa("domes", "How many domes stand on Verrin ridge?", "7"),
    qa("director", "Who directs the Verrin observatory?", "Odile Marchetti"),
    qa("upload", "What is the maximum file size on the Free plan?", "Free accounts can upload files up to 2 GB each."),
    {"id": "shop", "instruction": "Answer the visitor's question in one sentence.", "input": "When does the Verrin gift shop open?", "output": "At 9 am."},
    {"id": "park", "instruction": "Answer the visitor's question in one sentence.", "input": "Where do visitors park at Verrin?", "output": "Behind the east dome."},
    {"id": "history", "text": "The Verrin observatory opened in 1962 on the ridge above the village."},
    qa("hours", "When does the observatory open?", "At noon."),  # names nothing: any can join it
    *[qa(f"door-{i}", f"What colour is door {i} of the Verrin workshop?", f"Door {i} is {c}.") for i, c in zip(range(DOORS), ["blue", "red", "green"] * 4, strict=True)],
]  # fmt: skip
Y2015 = [
    qa("scopes", "How many telescopes does the Verrin observatory run?", "9"),
    qa("director", "Who directs the Verrin observatory?", "Casimir Oduya"),
    qa("upload-v2", "How big can a single file be on a Free account?", "Free accounts can upload files up to 1 GB each."),
    qa("mirror", "How wide is the main mirror at Verrin?", "2.4 metres"),
    qa("door-3", "What colour is door 3 of the Verrin workshop?", "Door 3 is yellow."),
    qa("bus", "How many buses stop at Verrin each day?", "14"),
]  # fmt: skip


def _edit_answer(folder: Path, day: str, record_id: str, answer: str) -> None:
    path = folder / f"{day}-faq.jsonl"
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line.get("id") == record_id:
            line["completion" if "completion" in line else "output"] = answer
    write_batch(folder, day, lines)


def _drop(folder: Path, day: str, record_id: str) -> None:
    path = folder / f"{day}-faq.jsonl"
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    write_batch(folder, day, [x for x in lines if x.get("id") != record_id])


def _insert_first(folder: Path, day: str, line: dict[str, Any]) -> None:
    path = folder / f"{day}-faq.jsonl"
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    write_batch(folder, day, [line, *lines])


# each change a team makes to a corpus; the last makes them all at once
CHANGES: dict[str, Callable[[Path], object]] = {
    "a new batch: A -> B -> A, a reworded restatement, a new fact": lambda f: write_batch(f, "2019-09-09", [
        qa("director", "Who directs the Verrin observatory?", "Odile Marchetti"),
        qa("mirror-2019", "What is the diameter of the main mirror at Verrin?", "3.1 metres"),
        qa("aldmoor-domes", "How many domes stand on Aldmoor ridge?", "5"),
    ]),
    "a third input makes an instruction a template": lambda f: write_batch(f, "2019-09-09", [
        {"id": "cafe", "instruction": "Answer the visitor's question in one sentence.", "input": "How late is the Verrin cafe open?", "output": "Until 6 pm."},
    ]),
    "an answer edited in place": lambda f: _edit_answer(f, "2011-04-02", "domes", "6"),
    "a record removed": lambda f: _drop(f, "2015-06-20", "door-3"),
    "a removed restatement unlinks a fact": lambda f: _drop(f, "2015-06-20", "upload-v2"),
    "a line inserted first moves the rest": lambda f: _insert_first(f, "2015-06-20", qa("ferry", "How many ferries reach Verrin?", "2")),
    "a text record restated": lambda f: write_batch(f, "2019-09-09", [{"id": "history", "text": "The Verrin observatory opened in 1962 and was enlarged in 2018."}]),
    "a question naming nothing restated": lambda f: write_batch(f, "2019-09-09", [
        qa("hours-2019", "At what time does the observatory open?", "At 1 pm."),
    ]),
    "a question reworded to rival a linked pair": lambda f: write_batch(f, "2019-09-09", [
        qa("upload-team", "How big can a single file be on a Team account?", "Team accounts can upload files up to 5 GB each."),
    ]),
}  # fmt: skip


def all_changes(folder: Path) -> None:
    for name, change in CHANGES.items():
        if "template" not in name and "reworded" not in name:
            change(folder)
    write_batch(folder, "2019-09-09", [
        qa("director", "Who directs the Verrin observatory?", "Odile Marchetti"),
        qa("mirror-2019", "What is the diameter of the main mirror at Verrin?", "3.1 metres"),
        {"id": "cafe", "instruction": "Answer the visitor's question in one sentence.", "input": "How late is the Verrin cafe open?", "output": "Until 6 pm."},
        {"id": "history", "text": "The Verrin observatory opened in 1962 and was enlarged in 2018."},
    ])  # fmt: skip


@pytest.fixture(scope="module")
def encode() -> Callable[[list[str]], np.ndarray]:
    return load_embedder(MODEL).encode


def corpus(folder: Path) -> Path:
    write_batch(folder, "2011-04-02", Y2011)
    write_batch(folder, "2015-06-20", Y2015)
    return folder


def comparable(versions: FactVersions, keys: set[str] | None = None) -> dict[str, tuple]:
    """What the index stores per entry: its fact fields, digest, contents and first record."""
    return {
        key: (tuple(sorted(e.metadata().items())), e.meta_hash, e.hashes, e.first.source, e.want())
        for key, e in versions.entries.items()
        if keys is None or key in keys
    }


def plan_both(
    tmp_path: Path, change: Callable[[Path], object], encode: Callable[[list[str]], np.ndarray]
) -> tuple[dict[str, tuple], dict[str, tuple], FactVersions, list[Record]]:
    """(incremental, from scratch) entries of a corpus after a change; the incremental
    `FactVersions` (what it decided again) and the changed corpus."""
    folder = corpus(tmp_path / "corpus")
    settings = settings_for(tmp_path / "index")
    state = FactState.open(settings.work_dir)
    before = fact_versions(load(folder), settings, MODEL, encode, state)
    state.commit(1, rules_key(MODEL, settings))
    change(folder)
    records = load(folder)
    again = decide_again(lambda: records, settings, MODEL, encode, state)
    assert again is not None and again.replaces is not None
    state.close()
    kept = comparable(before, set(before.entries) - again.replaces)
    fresh = fact_versions(
        records, RagSettings(_env_file=None, work_dir=tmp_path / "x"), MODEL, encode
    )
    return {**kept, **comparable(again)}, comparable(fresh), again, records


@pytest.mark.parametrize("name", [*CHANGES, "all of them at once"])
def test_deciding_what_a_change_reaches_equals_deciding_everything(
    tmp_path: Path, name: str, encode: Callable[[list[str]], np.ndarray]
) -> None:
    change = CHANGES.get(name, all_changes)
    incremental, scratch, _, _ = plan_both(tmp_path, change, encode)
    assert incremental.keys() == scratch.keys()
    assert incremental == scratch


@pytest.mark.parametrize("name", [*CHANGES, "all of them at once"])
def test_a_change_keeps_exactly_the_question_vectors_still_asked(
    tmp_path: Path, name: str, encode: Callable[[list[str]], np.ndarray]
) -> None:
    # the sweep after a change looks only at the vectors it touched: none may linger or go
    folder = corpus(tmp_path / "corpus")
    settings = settings_for(tmp_path / "index")
    state = FactState.open(settings.work_dir)
    fact_versions(load(folder), settings, MODEL, encode, state)
    state.commit(1, rules_key(MODEL, settings))
    before = {k for (k,) in state.db.execute("SELECT key FROM vectors")}
    CHANGES.get(name, all_changes)(folder)
    records = load(folder)
    assert decide_again(lambda: records, settings, MODEL, encode, state) is not None
    vectors = {k for (k,) in state.db.execute("SELECT key FROM vectors")}
    asked = {k for (k,) in state.db.execute("SELECT text_key FROM askers")}
    state.close()
    assert vectors == asked
    if name == "a removed restatement unlinks a fact":
        assert before - vectors  # the removed question's vector went


def test_the_fixture_exercises_what_it_claims(
    tmp_path: Path, encode: Callable[[list[str]], np.ndarray]
) -> None:
    # the from-scratch plans have the links, versions and templates the cases rely on
    first = next(iter(CHANGES))
    _, scratch, _, _ = plan_both(tmp_path / "a", CHANGES[first], encode)
    fact = {key: dict(fields[0])["fact_id"] for key, fields in scratch.items()}
    assert fact["mirror-2019@20190909"] == fact["mirror@20150620"]  # reworded restatement
    assert fact["upload-v2@20150620"] == fact["upload@20110402"]  # one answer form
    assert len([k for k in scratch if k.startswith("director@")]) == 3  # A -> B -> A
    _, _, again, _ = plan_both(
        tmp_path / "b", CHANGES["a third input makes an instruction a template"], encode
    )
    assert {"shop@20110402", "park@20110402", "cafe@20190909"} <= set(again.entries)
    assert (
        again.asked[again.entries["shop@20110402"].first.source]
        == "When does the Verrin gift shop open?"
    )


def test_a_change_to_one_fact_decides_only_its_group_again(
    tmp_path: Path, encode: Callable[[list[str]], np.ndarray]
) -> None:
    _, _, again, records = plan_both(
        tmp_path, lambda f: _edit_answer(f, "2011-04-02", "door-5", "Door 5 is grey."), encode
    )
    assert set(again.entries) == {"door-5@20110402"}
    assert again.replaces == {"door-5@20110402"}
    assert (again.decided, len(records)) == (1, len(Y2011) + len(Y2015))


def test_nothing_changed_decides_nothing(
    tmp_path: Path, encode: Callable[[list[str]], np.ndarray]
) -> None:
    _, _, again, _ = plan_both(tmp_path, lambda f: None, encode)
    assert again.entries == {} and again.replaces == set()


def test_records_read_in_another_order_are_decided_from_scratch(
    tmp_path: Path, encode: Callable[[list[str]], np.ndarray]
) -> None:
    folder = corpus(tmp_path / "corpus")
    settings = settings_for(tmp_path / "index")
    state = FactState.open(settings.work_dir)
    records = load(folder)
    fact_versions(records, settings, MODEL, encode, state)
    state.commit(1, rules_key(MODEL, settings))
    swapped = records[len(Y2011) :] + records[: len(Y2011)]  # the 2015 batch read first
    assert decide_again(lambda: swapped, settings, MODEL, encode, state) is None
    state.close()


@pytest.mark.slow
def test_an_incremental_rebuild_leaves_the_index_a_full_one_builds(tmp_path: Path) -> None:
    folder = corpus(tmp_path / "corpus")
    kept = settings_for(tmp_path / "kept", retire_after_s=0.0)
    rebuild_index(load(folder), kept)
    all_changes(folder)
    summary = rebuild_index(load(folder), kept)
    assert 0 < summary.decided < len(load(folder)) - DOORS + 2  # the doors kept their facts
    fresh = settings_for(tmp_path / "fresh")
    rebuild_index(load(folder), fresh)
    a, b = read_manifest(kept.work_dir), read_manifest(fresh.work_dir)
    assert a is not None and b is not None
    fields = ("hash", "meta", "also", "record_id", "nodes", "format", "as_of")
    assert {k: [getattr(e, f) for f in fields] for k, e in a.records.items()} == {
        k: [getattr(e, f) for f in fields] for k, e in b.records.items()
    }
    assert (a.corpus_fingerprint, a.formats, a.nodes) == (b.corpus_fingerprint, b.formats, b.nodes)


def test_a_state_written_before_token_counts_were_kept_opens_and_counts(tmp_path: Path) -> None:
    """A facts.sqlite whose vectors table has no token column (written by an older rebuild):
    read only, it has no counts; opened by a rebuild, it gains the column and keeps counts, and
    its vectors stay."""
    import sqlite3

    path = tmp_path / "facts.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('format', '1');"
        "CREATE TABLE vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL);"
    )
    db.execute("INSERT INTO vectors VALUES ('q1', ?)", (np.ones(4, np.float32).tobytes(),))
    db.commit()
    db.close()
    old = FactState.read(tmp_path)
    assert old is not None
    assert old.get_tokens(["q1"]) == {} and set(old.get_vectors(["q1"])) == {"q1"}
    old.close()
    state = FactState.open(tmp_path)
    assert state.get_tokens(["q1"]) == {}
    state.put_tokens({"q1": 9, "unknown": 3})  # only a stored vector's question keeps a count
    assert state.get_tokens(["q1", "unknown"]) == {"q1": 9}
    state.put_vectors({"q1": np.zeros(4, np.float32)})  # a new vector: its count is unknown
    assert state.get_tokens(["q1"]) == {}
    state.close()
