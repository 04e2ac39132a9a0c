"""Planning a rebuild: which collection it writes and which versions it embeds, keeps or deletes."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from corpus import iter_records
from rag.manifest import IndexedRecord, IndexManifest, RebuildSummary
from rag.plan import Held, Target, Want, choose_target, plan_changes, stored_id, wanted_versions

ASKED = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
CONFIG = ("/models/minilm", "/srv/index/chroma", "fleet-kb")


def manifest(**changes: object) -> IndexManifest:
    values: dict[str, object] = {
        "built_at": ASKED - timedelta(hours=3),
        "corpus_fingerprint": "f",
        "embed_model": "/models/minilm",
        "dimension": 384,
        "store": "/srv/index/chroma",
        "collection": "fleet-kb-g000007",
        "base": "fleet-kb",
        "generation": 7,
    }
    values.update(changes)
    return IndexManifest.model_validate(values)


# (manifest, marker, full asked, stored generations, expected target, words of the reason)
# fmt: off
TARGETS = [
        (None, None, False, {}, Target("fleet-kb-g000001", 1, new=True), "no index yet"),
        (manifest(), None, False, {"fleet-kb-g000007": 7}, Target("fleet-kb-g000007", 7, new=False), ""),
        (manifest(), None, True, {"fleet-kb-g000007": 7}, Target("fleet-kb-g000008", 8, new=True), ""),
        # a killed full rebuild left generation 9 behind: the next number is 10
        (manifest(), None, True, {"fleet-kb-g000007": 7, "fleet-kb-g000009": 9}, Target("fleet-kb-g000010", 10, new=True), ""),
        (manifest(embed_model="http://10.0.0.5:8080/v1#bge-small"), None, False, {}, Target("fleet-kb-g000008", 8, new=True), "embedder changed"),
        (manifest(store="http://chroma.internal:8000"), None, False, {}, Target("fleet-kb-g000008", 8, new=True), "store changed"),
        (manifest(version=1, collection="fleet-kb", base="", generation=0), None, False, {}, Target("fleet-kb-g000001", 1, new=True), "format 1"),
        # the marker of a killed full rebuild by the same embedder: the next full one resumes it
        (manifest(), {"full": True, "collection": "fleet-kb-g000008", "embed_model": "/models/minilm"}, True, {"fleet-kb-g000007": 7, "fleet-kb-g000008": 8}, Target("fleet-kb-g000008", 8, new=True, resumed=True), ""),
        # ... an incremental one stays in place (the half-written generation is dropped)
        (manifest(), {"full": True, "collection": "fleet-kb-g000008", "embed_model": "/models/minilm"}, False, {"fleet-kb-g000007": 7, "fleet-kb-g000008": 8}, Target("fleet-kb-g000007", 7, new=False), ""),
        # ... but not one another embedder wrote
        (manifest(), {"full": True, "collection": "fleet-kb-g000008", "embed_model": "/other"}, True, {"fleet-kb-g000007": 7, "fleet-kb-g000008": 8}, Target("fleet-kb-g000009", 9, new=True), ""),
        # a full rebuild asked for while another finished it: nothing left to do in full
        (manifest(built_at=ASKED + timedelta(seconds=40), last_rebuild=RebuildSummary(full=True)), None, True, {"fleet-kb-g000007": 7}, Target("fleet-kb-g000007", 7, new=False), "finished while this one waited"),
        # a full rebuild that ended before this one was asked for does not count
        (manifest(last_rebuild=RebuildSummary(full=True)), None, True, {"fleet-kb-g000007": 7}, Target("fleet-kb-g000008", 8, new=True), ""),
]
# fmt: on


@pytest.mark.parametrize(("current", "marker", "full", "existing", "expected", "reason"), TARGETS)
def test_choose_target(
    current: IndexManifest | None,
    marker: dict[str, object] | None,
    full: bool,
    existing: dict[str, int],
    expected: Target,
    reason: str,
) -> None:
    target = choose_target(current, marker, CONFIG, full, ASKED, existing)
    got = (target.collection, target.generation, target.new, target.resumed)
    assert got == (expected.collection, expected.generation, expected.new, expected.resumed)
    assert reason in target.reason


def want(content: str, day: date = date(2031, 4, 1)) -> Want:
    return Want(content, day, "instruction")


def test_plan_changes_keeps_embeds_adopts_and_retires_versions() -> None:
    held = Held(
        live={
            "bus-7": IndexedRecord(hash="a" * 64),
            "bus-9": IndexedRecord(hash="b" * 64),
            "ferry": IndexedRecord(hash="c" * 64, nodes=3),  # removed from the corpus
        },
        leftovers={("bus-9", "d" * 64): ["bus-9#0@dddd"], ("tram", "e" * 64): ["tram#0@eeee"]},
        complete={("bus-9", "d" * 64): 1},  # an interrupted run wrote bus-9's new version whole
    )
    wanted = {"bus-7": want("a" * 64), "bus-9": want("d" * 64), "tram": want("f" * 64)}
    plan = plan_changes(wanted, held)
    assert set(plan.keep) == {"bus-7"}
    assert set(plan.adopt) == {"bus-9"} and set(plan.embed) == {"tram"}
    assert (plan.added, plan.updated, plan.deleted) == (1, 1, 1)
    # old versions leave after the switch; what no manifest admitted leaves before writing
    assert sorted(plan.retired) == sorted(
        [stored_id("bus-9#0", "b" * 64)] + [stored_id(f"ferry#{i}", "c" * 64) for i in range(3)]
    )
    assert plan.junk == ["tram#0@eeee"]


def test_stored_ids_of_two_versions_differ_and_keep_the_record_id() -> None:
    old, new = stored_id("a#1#0", "1" * 64), stored_id("a#1#0", "2" * 64)
    assert old != new
    assert {old.rsplit("#", 1)[0], new.rsplit("#", 1)[0]} == {"a#1"}


def test_change_detection_holds_ids_and_hashes_not_texts(tmp_path: Path) -> None:
    # 2,000 records with 12 KB answers each: 24 MB of text streamed from disk
    path = tmp_path / "2031-04-01-manuals.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(2_000):
            answer = f"Step {i}: " + "tighten the flange bolts in a star pattern; " * 280
            out.write(
                json.dumps({"id": f"m{i}", "prompt": f"Manual page {i}?", "completion": answer})
            )
            out.write("\n")
    tracemalloc.start()
    wanted = wanted_versions(iter_records([path]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(wanted) == 2_000
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while reading 24 MB of text"
