"""Change detection against the stored fact state: new, gone and moved records found in SQL,
records read in another order noticed, and memory that does not grow with the corpus."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from corpus import iter_records
from rag.changes import detect_changes, removed_ids
from rag.factstate import FactState
from rag.versions import statements_of
from tests.rag_helpers import load, qa, write_batch


def stored(work: Path, folder: Path) -> FactState:
    """A fact state holding a corpus's records (each its own group), committed."""
    state = FactState.open(work)
    rows = [(seq, s, seq) for seq, s in enumerate(statements_of(load(folder)))]
    state.replace_groups([], rows, [], [])
    state.commit(1, "rules")
    return state


def lines(n: int, answer: str = "yes") -> list[dict[str, str]]:
    return [qa(f"q{i}", f"Is gate {i} open on Sundays?", f"{answer} ({i})") for i in range(n)]


def test_new_gone_and_moved_records_are_found(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_batch(folder, "2031-04-01", lines(6))
    state = stored(tmp_path / "index", folder)
    changed = lines(6)
    changed[2] = qa("q2", "Is gate 2 open on Sundays?", "no (2)")  # edited in place
    del changed[4]  # removed: q5 moves up a line
    write_batch(folder, "2031-04-01", changed)
    write_batch(folder, "2031-05-01", [qa("q9", "Is gate 9 open on Sundays?", "yes (9)")])
    changes = detect_changes(iter_records([folder]), state)
    assert changes.records == 6
    assert (changes.added, changes.moved, changes.changed_ids) == (2, 1, 1)
    assert len(changes.new) == 3 and len(changes.gone) == 3  # q2's old text, q4, q5's old line
    assert changes.in_order and removed_ids(state) == 1  # q4
    state.close()


def test_an_unchanged_corpus_has_no_changes_even_with_repeated_records(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_batch(folder, "2031-04-01", lines(3))
    state = FactState.open(tmp_path / "index")
    records = load(folder)
    twice = [records[0], *records]  # one record read twice: a count tells the two apart
    state.replace_groups([], [(i, s, i) for i, s in enumerate(statements_of(twice))], [], [])
    state.commit(1, "rules")
    changes = detect_changes(iter(twice), state)
    assert (changes.new, changes.gone, changes.in_order) == ([], [], True)
    state.close()


def test_records_read_in_another_order_are_noticed(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_batch(folder, "2031-04-01", lines(4))
    state = stored(tmp_path / "index", folder)
    records = load(folder)
    changes = detect_changes(iter([records[1], records[0], *records[2:]]), state)
    assert not changes.new and not changes.in_order
    state.close()


def peak(call: Callable[[], object]) -> int:
    """The most Python memory a call held at once (bytes)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_corpus(tmp_path: Path) -> None:
    # beyond what reading the corpus holds (the loader's duplicate index), comparing it holds one
    # batch of rows, not an id -> hash map per record
    extra = []
    for n in (4_000, 32_000):
        folder = tmp_path / f"c{n}"
        folder.mkdir()
        with (folder / "2031-04-01-gates.jsonl").open("w", encoding="utf-8") as out:
            for i in range(n):
                out.write(json.dumps(qa(f"q{i}", f"Is gate {i} open?", "yes " * 50)) + "\n")
        state = stored(tmp_path / f"i{n}", folder)
        reading = peak(lambda: sum(1 for _ in iter_records([folder])))  # noqa: B023
        comparing = peak(lambda: detect_changes(iter_records([folder]), state))  # noqa: B023
        extra.append(comparing - reading)
        state.close()
    # eight times the records: 28,000 more ids and hashes would take over 3 MB as strings alone
    assert extra[1] - extra[0] < 300_000, extra
