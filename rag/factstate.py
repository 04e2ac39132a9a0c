"""Fact identity as the last rebuild left it, kept on disk (`facts.sqlite` in the index folder).

Every corpus record the index was built from (as a `Statement`, no answer text), the group of
records its fact identity was decided in (a component: records joined by id, by question, or by a
pair of questions that could be one fact), the index entries each group made, every distinct
question with the answer forms and rival floor that decided it, and the question vectors. The
next rebuild compares the corpus with it in SQL (`rag.changes`) and decides again only the
groups a change reaches (`rag.scope`).

It belongs to one manifest revision: written in a transaction committed after the manifest
switch, so a rebuild killed in between leaves it one revision behind, and the next rebuild,
seeing that, decides everything again instead of trusting it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from rag.facts import Statement
from rag.neighbours import Asker

FILE = "facts.sqlite"
FORMAT = "1"  # the layout of this file: another one is ignored and written again
CHUNK = 500  # keys per `IN (...)` query (SQLite allows 999 parameters by default)
SWEEP_ALL = 50_000  # released vector keys beyond which the sweep reads the whole table
CACHE_KB = 16_384  # SQLite's page cache (and sort memory): bounded, whatever the corpus size

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS statements (
    skey TEXT PRIMARY KEY,   -- record id, content hash and day: one corpus record
    seq INTEGER NOT NULL,    -- its place in the corpus
    place TEXT NOT NULL,     -- file, line and batch it was read from
    id TEXT NOT NULL,
    qkey TEXT,               -- the normalised question of its fact (NULL: a text record)
    tkey TEXT,               -- its normalised instruction when it has a context (templates)
    ctx TEXT,                -- the key of that context
    comp INTEGER NOT NULL,   -- the group its fact identity was decided in
    data TEXT NOT NULL       -- the Statement as JSON
);
CREATE INDEX IF NOT EXISTS statements_id ON statements(id);
CREATE INDEX IF NOT EXISTS statements_qkey ON statements(qkey);
CREATE INDEX IF NOT EXISTS statements_tkey ON statements(tkey);
CREATE INDEX IF NOT EXISTS statements_comp ON statements(comp);
CREATE TABLE IF NOT EXISTS askers (
    key TEXT PRIMARY KEY,    -- the normalised question
    text_key TEXT NOT NULL,  -- the key of its vector
    text TEXT NOT NULL,
    names TEXT NOT NULL,     -- what it names, one per line
    kind TEXT,
    forms TEXT NOT NULL,     -- answer forms of its base fact, one per line
    floor REAL,              -- rivals below this cosine cannot matter (NULL: it has no partner)
    comp INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS askers_comp ON askers(comp);
CREATE INDEX IF NOT EXISTS askers_names ON askers(names);
CREATE INDEX IF NOT EXISTS askers_text_key ON askers(text_key);
CREATE TABLE IF NOT EXISTS asker_names (name TEXT NOT NULL, key TEXT NOT NULL, comp INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS asker_names_name ON asker_names(name);
CREATE INDEX IF NOT EXISTS asker_names_key ON asker_names(key, name);
CREATE INDEX IF NOT EXISTS asker_names_comp ON asker_names(comp);
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, comp INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS entries_comp ON entries(comp);
CREATE TABLE IF NOT EXISTS vectors (
    key TEXT PRIMARY KEY,    -- `rag.questions.text_key` of the question
    vector BLOB NOT NULL,
    tokens INTEGER           -- the embedder's tokens in the question (NULL: not counted yet)
);
"""


def statement_json(statement: Statement) -> str:
    """A statement as stored (without its answer text, which fact identity never needs)."""
    fields = dict(vars(statement))  # its fields are plain values: no deep copy needed
    fields["answer"] = None
    fields["as_of"] = statement.as_of.isoformat() if statement.as_of else None
    return json.dumps(fields, ensure_ascii=False)


def statement_of(data: str) -> Statement:
    """A stored statement."""
    fields = json.loads(data)
    fields["as_of"] = date.fromisoformat(fields["as_of"]) if fields["as_of"] else None
    return Statement(**fields)


class FactState:
    """The stored fact identity of one index folder; an open SQLite transaction until `commit`."""

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = path
        self.writable = writable
        self._sizes: dict[str, int] = {}  # how many questions name a thing (until a write)
        # vectors this transaction may have left without a question: the sweep looks at these
        # only (None: all of them, after the groups were dropped wholesale)
        self._released: set[str] | None = set()
        if writable:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            # readers (the app's fact histories) read the last commit while a rebuild writes
            self.db.execute("PRAGMA journal_mode = WAL")
        else:
            uri = f"{path.resolve().as_uri()}?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.db.execute(f"PRAGMA cache_size = -{CACHE_KB}")
        self.db.execute("PRAGMA temp_store = FILE")  # change detection's temp tables on disk
        self.db.execute("BEGIN")
        if writable:
            if self.meta("format") not in (None, FORMAT):
                self.clear()
            self._schema()
            self.set_meta("format", FORMAT)
        # a file of an older rebuild has no token counts: a writer added the column just now
        self._counts_tokens = writable or self._has_token_column()

    @classmethod
    def open(cls, work_dir: Path) -> FactState:
        """The state of an index folder, for a rebuild to change (empty when it has none)."""
        return cls(work_dir / FILE)

    @classmethod
    def read(cls, work_dir: Path) -> FactState | None:
        """The last committed state of an index folder, read only; None when it has none."""
        path = work_dir / FILE
        if not path.exists():
            return None
        state = cls(path, writable=False)
        if state.meta("format") != FORMAT:
            state.close()
            return None
        return state

    def _schema(self) -> None:
        # one statement at a time: `executescript` would commit the open transaction first
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self.db.execute(statement)
        if not self._has_token_column():  # a file written before questions kept their counts
            self.db.execute("ALTER TABLE vectors ADD COLUMN tokens INTEGER")

    def _has_token_column(self) -> bool:
        columns = self.db.execute("PRAGMA table_info(vectors)")
        return any(row[1] == "tokens" for row in columns)

    def meta(self, key: str) -> str | None:
        """A stored setting (the revision it belongs to, the rules it was decided by)."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no table yet
            return None
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def is_for(self, revision: int, rules: str) -> bool:
        """Whether this state is the one a manifest revision was built with, by these rules."""
        return self.meta("revision") == str(revision) and self.meta("rules") == rules

    def clear(self) -> None:
        """Forget everything (a full pass writes it all again)."""
        for table in ("meta", "statements", "askers", "asker_names", "entries", "vectors"):
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self._schema()
        self.set_meta("format", FORMAT)
        self._released = set()

    def forget_groups(self) -> None:
        """Drop every statement, asker and entry, keeping the question vectors."""
        for table in ("statements", "askers", "asker_names", "entries"):
            self.db.execute(f"DELETE FROM {table}")
        self._released = None

    def commit(self, revision: int, rules: str) -> None:
        """Make this state the one of a manifest revision (after the manifest switch)."""
        self.set_meta("revision", str(revision))
        self.set_meta("rules", rules)
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")
        self._released = set()

    def close(self) -> None:
        """Give up what was not committed (a writer) and close the file."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self.db.close()

    # --- question vectors (a `rag.questions.VectorStore`) ------------------------------------

    def get_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those keys that have one."""
        found = {}
        for part in _chunks(list(keys)):
            marks = ",".join("?" * len(part))
            query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"
            for key, blob in self.db.execute(query, part):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        """Keep new vectors (a read-only state keeps nothing)."""
        if not self.writable:
            return
        rows = ((k, np.asarray(v, np.float32).tobytes()) for k, v in vectors.items())
        self.db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)
        self._release(vectors)

    def get_tokens(self, keys: Iterable[str]) -> dict[str, int]:
        """The stored token counts of those question keys that have one."""
        if not self._counts_tokens:  # read only, written before counts were kept
            return {}
        found: dict[str, int] = {}
        for part in _chunks(list(keys)):
            marks = ",".join("?" * len(part))
            query = f"SELECT key, tokens FROM vectors WHERE key IN ({marks}) AND tokens IS NOT NULL"
            found.update(self.db.execute(query, part))
        return found

    def put_tokens(self, counts: dict[str, int]) -> None:
        """Keep the token counts of questions whose vectors are stored, so a later rebuild that
        writes their nodes again need not load the embedder in this process to count them."""
        if self.writable and counts:
            rows = ((n, k) for k, n in counts.items())
            self.db.executemany("UPDATE vectors SET tokens = ? WHERE key = ?", rows)

    def drop_unused_vectors(self) -> None:
        """Forget vectors no question asks any more, so the file does not grow without end.

        Only the vectors this transaction put or took a question from can have become unused:
        a rebuild that changed 1% looks at those (the whole table cost 0.7 s at 200k records).
        """
        released, self._released = self._released, set()
        if released is None:
            self.db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT text_key FROM askers)")
            return
        for part in _chunks(sorted(released)):
            marks = ",".join("?" * len(part))
            self.db.execute(
                f"DELETE FROM vectors WHERE key IN ({marks}) AND NOT EXISTS "
                "(SELECT 1 FROM askers WHERE askers.text_key = vectors.key)",
                part,
            )

    def _release_askers(self, column: str, values: list[Any]) -> None:
        """Release the vectors of the question rows whose `column` is one of `values`."""
        if self._released is None:  # the sweep reads the whole table anyway
            return
        marks = ",".join("?" * len(values))
        query = f"SELECT text_key FROM askers WHERE {column} IN ({marks})"
        self._release(k for (k,) in self.db.execute(query, values))

    def _release(self, keys: Iterable[str]) -> None:
        if self._released is not None:
            self._released.update(keys)
            if len(self._released) > SWEEP_ALL:  # a large change: sweep all, hold no more keys
                self._released = None

    # --- what the groups hold -----------------------------------------------------------------

    def statements(self, comps: Iterable[int]) -> list[tuple[int, Statement]]:
        """(corpus place, statement) of every record of some groups, in corpus order."""
        found = []
        for part in _chunks(sorted(set(comps))):
            marks = ",".join("?" * len(part))
            query = f"SELECT seq, data FROM statements WHERE comp IN ({marks})"
            found += [(seq, statement_of(data)) for seq, data in self.db.execute(query, part)]
        return sorted(found, key=lambda row: row[0])

    def comps_where(
        self, column: str, values: Iterable[str], table: str = "statements"
    ) -> set[int]:
        """The groups of the rows whose `column` is one of `values`."""
        assert (table, column) in {
            ("statements", "id"),
            ("statements", "qkey"),
            ("statements", "tkey"),
            ("statements", "skey"),
            ("askers", "key"),
        }
        comps: set[int] = set()
        for part in _chunks(sorted(set(values))):
            marks = ",".join("?" * len(part))
            query = f"SELECT DISTINCT comp FROM {table} WHERE {column} IN ({marks})"
            comps.update(c for (c,) in self.db.execute(query, part))
        return comps

    def contexts(self, tkey: str, leaving: Iterable[str] = ()) -> set[str]:
        """The distinct contexts an instruction is stored with, besides records leaving."""
        rows = self.db.execute("SELECT skey, ctx FROM statements WHERE tkey = ?", (tkey,))
        gone = set(leaving)
        return {ctx for skey, ctx in rows if skey not in gone}

    def entries(self, comps: Iterable[int]) -> set[str]:
        """The index entry keys some groups made."""
        found: set[str] = set()
        for part in _chunks(sorted(set(comps))):
            marks = ",".join("?" * len(part))
            query = f"SELECT key FROM entries WHERE comp IN ({marks})"
            found.update(k for (k,) in self.db.execute(query, part))
        return found

    def next_comp(self) -> int:
        """A group number never used in this state."""
        row = self.db.execute(
            "SELECT MAX(m) FROM (SELECT MAX(comp) AS m FROM statements "
            "UNION ALL SELECT MAX(comp) FROM askers)"
        ).fetchone()
        return int(row[0] or 0) + 1

    def replace_groups(
        self,
        comps: Iterable[int],
        statements: Sequence[tuple[int, Statement, int]],
        askers: Sequence[tuple[Asker, str, float | None, int]],
        entries: Iterable[tuple[str, int]],
    ) -> None:
        """Put new groups in the place of old ones: (seq, statement, group) rows, (asker,
        vector key, floor, group) rows and (entry key, group) rows."""
        self._sizes.clear()
        old = sorted(set(comps))
        for part in _chunks(old):
            marks = ",".join("?" * len(part))
            self._release_askers("comp", part)
            for table in ("statements", "askers", "asker_names", "entries"):
                self.db.execute(f"DELETE FROM {table} WHERE comp IN ({marks})", part)
        for part in _chunks([a.key for a, _, _, _ in askers]):  # rows the inserts will replace
            self._release_askers("key", part)
        self.db.executemany(
            "INSERT OR REPLACE INTO statements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_statement_row(seq, s, comp) for seq, s, comp in statements),
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO askers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    a.key,
                    text_key,
                    a.text,
                    "\n".join(sorted(a.names)),
                    a.kind,
                    "\n".join(sorted(a.forms)),
                    floor,
                    comp,
                )
                for a, text_key, floor, comp in askers
            ),
        )
        self.db.executemany(
            "INSERT INTO asker_names VALUES (?, ?, ?)",
            ((name, a.key, comp) for a, _, _, comp in askers for name in a.names),
        )
        self.db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", entries)

    # --- questions looked up as a scope needs them (`rag.lookup`) --------------------------------

    def asker_keys(self, comps: Iterable[int]) -> list[str]:
        """The questions of some groups."""
        keys: list[str] = []
        for part in _chunks(sorted(set(comps))):
            marks = ",".join("?" * len(part))
            query = f"SELECT key FROM askers WHERE comp IN ({marks})"
            keys += [k for (k,) in self.db.execute(query, part)]
        return keys

    def stored_askers(
        self, keys: Iterable[str]
    ) -> dict[str, tuple[Asker, float | None, int, np.ndarray]]:
        """Some stored questions by key: the asker, its rival floor, group and vector."""
        found = {}
        for part in _chunks(sorted(set(keys))):
            marks = ",".join("?" * len(part))
            query = (
                "SELECT a.key, a.text, a.names, a.kind, a.forms, a.floor, a.comp, v.vector "
                f"FROM askers a JOIN vectors v ON v.key = a.text_key WHERE a.key IN ({marks})"
            )
            for key, text, names, kind, forms, floor, comp, blob in self.db.execute(query, part):
                asker = Asker(key, text, _set(names), kind, _set(forms))
                found[key] = (asker, floor, comp, np.frombuffer(blob, dtype=np.float32))
        return found

    def keys_naming_all(self, names: frozenset[str]) -> set[str]:
        """Questions that name every one of `names` (and maybe more): the postings of the
        rarest name, each checked for the others."""
        order = sorted(names, key=self._posting_size)
        query = "SELECT key FROM asker_names a WHERE a.name = ?" + "".join(
            " AND EXISTS (SELECT 1 FROM asker_names b WHERE b.key = a.key AND b.name = ?)"
            for _ in order[1:]
        )
        return {k for (k,) in self.db.execute(query, order)}

    def _posting_size(self, name: str) -> int:
        if name not in self._sizes:
            query = "SELECT COUNT(*) FROM asker_names WHERE name = ?"
            self._sizes[name] = int(self.db.execute(query, (name,)).fetchone()[0])
        return self._sizes[name]

    def all_keys(self) -> set[str]:
        """Every stored question (a question naming nothing can be one fact with any)."""
        return {k for (k,) in self.db.execute("SELECT key FROM askers")}

    def keys_naming_exactly(self, names: frozenset[str]) -> set[str]:
        """Questions that name exactly `names` (nothing at all, for an empty set)."""
        query = "SELECT key FROM askers WHERE names = ?"
        return {k for (k,) in self.db.execute(query, ("\n".join(sorted(names)),))}

    def vector_blocks(self, size: int) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every stored question's key and vector, `size` at a time."""
        query = "SELECT a.key, v.vector FROM askers a JOIN vectors v ON v.key = a.text_key"
        cursor = self.db.execute(query)
        while rows := cursor.fetchmany(size):
            matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32)
            yield [key for key, _ in rows], matrix.reshape(len(rows), -1)

    def floored(self) -> list[tuple[str, float, int, np.ndarray]]:
        """Questions with a partner: key, rival floor, group and vector."""
        query = (
            "SELECT a.key, a.floor, a.comp, v.vector FROM askers a "
            "JOIN vectors v ON v.key = a.text_key WHERE a.floor IS NOT NULL"
        )
        return [
            (key, floor, comp, np.frombuffer(blob, dtype=np.float32))
            for key, floor, comp, blob in self.db.execute(query)
        ]


def skey_of(record_id: str, content_hash: str, day: date | None) -> str:
    """The key of one corpus record: its id, content and date (a repeat gets a count added).

    >>> skey_of("faq-1", "ab12", date(2026, 3, 1))
    'faq-1\\x1fab12\\x1f20260301'
    """
    stamp = day.isoformat().replace("-", "") if day else "0"  # 5x quicker than strftime
    return f"{record_id}\x1f{content_hash}\x1f{stamp}"


def _statement_row(seq: int, s: Statement, comp: int) -> tuple[Any, ...]:
    tkey, ctx = template_keys(s)
    place = f"{s.file}\x1f{s.line}\x1f{s.batch}"
    return (s.skey, seq, place, s.id, s.key, tkey, ctx, comp, statement_json(s))


def template_keys(s: Statement) -> tuple[str | None, str | None]:
    """(instruction, context) keys of a record with a question and a context, else Nones."""
    from corpus.facts import normalize_question
    from rag.questions import text_key

    if s.question and s.context:
        return normalize_question(s.question), text_key(s.context)
    return None, None


def _set(lines: str) -> frozenset[str]:
    return frozenset(x for x in lines.split("\n") if x)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
