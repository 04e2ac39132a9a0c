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
    # corpus places of the records the state does not hold in any place: new texts, if any
    unseen: list[int] = field(default_factory=list)
    changed_ids: int = 0  # ids both among the added and among the vanished records
    in_order: bool = True  # the records both hold are in the same order in both

    @property
    def added(self) -> int:
        """Records of the corpus the state does not hold in any place."""
        return len(self.unseen)

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
    db.execute("DROP TABLE IF EXISTS temp.corpus")
    db.execute("CREATE TEMP TABLE corpus (seq INTEGER PRIMARY KEY, skey TEXT, id TEXT, place TEXT)")
    rows = corpus_rows(records)
    count = 0
    while chunk := list(islice(rows, ROWS)):
        db.executemany("INSERT INTO corpus VALUES (?, ?, ?, ?)", chunk)
        count += len(chunk)
    db.execute("CREATE INDEX temp.corpus_skey ON corpus(skey)")
    # repeats are rare: rename only them (copying the table through a window over every row
    # cost 0.4 s at 200k records)
    db.execute(
        "CREATE TEMP TABLE repeats AS SELECT seq, skey || char(31) || n AS renamed FROM "
        "(SELECT seq, skey, ROW_NUMBER() OVER (PARTITION BY skey ORDER BY seq) AS n FROM corpus "
        "WHERE skey IN (SELECT skey FROM corpus GROUP BY skey HAVING COUNT(*) > 1)) WHERE n > 1"
    )
    db.execute(
        "UPDATE corpus SET skey = repeats.renamed FROM repeats WHERE repeats.seq = corpus.seq"
    )
    db.execute("DROP TABLE temp.repeats")
    return count


def detect_changes(records: Iterable[Record], state: FactState) -> Changes:
    """Compare a corpus (streamed once) with the records the state holds."""
    db = state.db
    changes = Changes(records=load_corpus_table(records, state))
    # one pass in corpus order: new and moved records, and kept records whose stored order
    # descends somewhere (then ties could be decided otherwise: `rag.scope`)
    descents, last = 0, -1
    added_ids: set[str] = set()
    for seq, stored, same_place, new_id in db.execute(
        "SELECT c.seq, s.seq, s.place = c.place, CASE WHEN s.seq IS NULL THEN c.id END "
        "FROM corpus c LEFT JOIN statements s ON s.skey = c.skey ORDER BY c.seq"
    ):
        if stored is None:
            changes.new.append(seq)
            changes.unseen.append(seq)
            added_ids.add(new_id)
        elif not same_place:
            changes.new.append(seq)
        else:
            descents += stored < last
            last = stored
    changes.in_order = descents == 0
    vanished: set[str] = set()  # ids of stored records the corpus no longer holds anywhere
    for skey, gone_id in db.execute(
        "SELECT s.skey, CASE WHEN c.skey IS NULL THEN s.id END FROM statements s "
        "LEFT JOIN corpus c ON c.skey = s.skey WHERE c.skey IS NULL OR s.place != c.place"
    ):
        changes.gone.append(skey)
        if gone_id is not None:
            vanished.add(gone_id)
    # ids both among the added and the vanished records (a third query over both tables cost
    # 0.2 s at 200k records; the rows above name them already)
    changes.changed_ids = len(added_ids & vanished)
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
        "UPDATE statements SET seq = corpus.seq FROM corpus "
        "WHERE corpus.skey = statements.skey AND statements.seq != corpus.seq"
    )  # rows that kept their place are not written again
