"""What changed in a corpus since the last rebuild, found in bounded memory.

The corpus is streamed once into a temporary SQLite table (a record's place, id, content hash
and date: no text) and compared in SQL with the records the fact state holds: records new to
it, records gone from the corpus, and records that moved (another file, line or batch). Memory
holds SQLite's page cache and one batch of rows, not the million ids and hashes two
dictionaries would (bench/corpus_scale.py measures both).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from corpus import Record
from rag.factstate import FactState, skey_of

ROWS = 2_000  # corpus rows per insert: what Python holds of the corpus at once


@dataclass
class Changes:
    """The corpus compared with the stored state."""

    records: int = 0  # records in the corpus
    new: list[int] = field(default_factory=list)  # corpus places of records to decide again
    gone: list[str] = field(default_factory=list)  # stored records no longer where they were
    added: int = 0  # records of the corpus the state does not hold in any place
    changed_ids: int = 0  # ids both among the added and among the vanished records
    in_order: bool = True  # the records both hold are in the same order in both

    @property
    def moved(self) -> int:
        """Records the state holds elsewhere in the corpus (another file, line or batch)."""
        return len(self.new) - self.added


def place_of(record: Record) -> str:
    """Where a record was read: file, line and batch (a record that moves is re-stamped)."""
    return f"{record.source.file}\x1f{record.source.line}\x1f{record.batch or ''}"


def corpus_rows(records: Iterable[Record]) -> Iterator[tuple[int, str, str, str]]:
    """(corpus place, key, id, where) of every record, in corpus order (no text)."""
    for seq, record in enumerate(records):
        yield (
            seq,
            skey_of(record.id, record.content_hash, record.as_of),
            record.id,
            place_of(record),
        )


def load_corpus_table(records: Iterable[Record], state: FactState) -> int:
    """Stream the corpus into the temporary table `corpus` (seq, skey, id, place); a key seen
    before in the corpus gets its repeat count appended, as `final_keys` does. Returns the
    record count."""
    db = state.db
    db.execute("DROP TABLE IF EXISTS temp.raw")
    db.execute("DROP TABLE IF EXISTS temp.corpus")
    db.execute("CREATE TEMP TABLE raw (seq INTEGER PRIMARY KEY, skey TEXT, id TEXT, place TEXT)")
    rows = corpus_rows(records)
    count = 0
    while chunk := list(islice(rows, ROWS)):
        db.executemany("INSERT INTO raw VALUES (?, ?, ?, ?)", chunk)
        count += len(chunk)
    db.execute(
        "CREATE TEMP TABLE corpus AS SELECT seq, CASE WHEN n = 1 THEN skey "
        "ELSE skey || char(31) || n END AS skey, id, place FROM (SELECT seq, skey, id, place, "
        "ROW_NUMBER() OVER (PARTITION BY skey ORDER BY seq) AS n FROM raw)"
    )
    db.execute("DROP TABLE temp.raw")
    db.execute("CREATE UNIQUE INDEX temp.corpus_skey ON corpus(skey)")
    return count


def detect_changes(records: Iterable[Record], state: FactState) -> Changes:
    """Compare a corpus (streamed once) with the records the state holds."""
    db = state.db
    changes = Changes(records=load_corpus_table(records, state))
    changes.new = [
        seq
        for (seq,) in db.execute(
            "SELECT c.seq FROM corpus c LEFT JOIN statements s ON s.skey = c.skey "
            "WHERE s.skey IS NULL OR s.place != c.place ORDER BY c.seq"
        )
    ]
    changes.added = db.execute(
        "SELECT COUNT(*) FROM corpus c LEFT JOIN statements s ON s.skey = c.skey "
        "WHERE s.skey IS NULL"
    ).fetchone()[0]
    changes.gone = [
        skey
        for (skey,) in db.execute(
            "SELECT s.skey FROM statements s LEFT JOIN corpus c ON c.skey = s.skey "
            "WHERE c.skey IS NULL OR s.place != c.place"
        )
    ]
    changes.changed_ids = db.execute(
        "SELECT COUNT(DISTINCT c.id) FROM corpus c LEFT JOIN statements s ON s.skey = c.skey "
        "WHERE s.skey IS NULL AND c.id IN (SELECT s2.id FROM statements s2 "
        "LEFT JOIN corpus c2 ON c2.skey = s2.skey WHERE c2.skey IS NULL)"
    ).fetchone()[0]
    # kept records whose order differs: one descent in the stored order, read in corpus order
    descents = db.execute(
        "SELECT COUNT(*) FROM (SELECT s.seq - LAG(s.seq) OVER (ORDER BY c.seq) AS step "
        "FROM corpus c JOIN statements s ON s.skey = c.skey AND s.place = c.place) "
        "WHERE step < 0"
    ).fetchone()[0]
    changes.in_order = descents == 0
    return changes


def removed_ids(state: FactState) -> int:
    """Ids the state holds that the corpus (the last `detect_changes`) no longer has."""
    return int(
        state.db.execute(
            "SELECT COUNT(DISTINCT id) FROM statements WHERE id NOT IN (SELECT id FROM corpus)"
        ).fetchone()[0]
    )


def renumber(state: FactState) -> None:
    """Give every kept record its place in the corpus of the last `detect_changes`."""
    state.db.execute(
        "UPDATE statements SET seq = corpus.seq FROM corpus WHERE corpus.skey = statements.skey"
    )
