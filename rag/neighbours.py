"""The questions a question can be one fact with, and the ones that compete with it, found without
comparing every question with every other.

Two questions can state one fact only when one names nothing the other does not (`compatible`),
so the partners of a question are looked up by the things it names; only a question that names
nothing is compared with all. The rivals that can make a pair ambiguous are searched (one scan of
every question) only for questions that have a partner at all. A corpus written from one
template, where every question is near every other but each names its own account, costs a
lookup per question instead of a comparison of every pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import numpy as np

SUBSETS_MAX = 12  # a question naming more things than this is compared with every question
SCAN_BLOCK = 8_192  # rows per block of a scan over every question


@dataclass(frozen=True)
class Asker:
    """One distinct question of a corpus, as fact identity sees it."""

    key: str  # the normalised question (one per base fact)
    text: str  # what it asks: the question with its context, or a template's input
    names: frozenset[str]
    kind: str | None  # the kind of answer it asks for (person, time, place), when it says
    forms: frozenset[str]  # answer forms of its base fact (same id or same question)


@dataclass(frozen=True)
class Rules:
    """The cosine thresholds of fact identity (`RAG_SAME_FACT`, `RAG_SAME_FACT_FORM`) and the
    margin by which a pair must beat every rival."""

    same: float
    form: float
    margin: float

    @property
    def form_route(self) -> bool:
        """Whether answers that read alike lower the bar at all."""
        return self.form < self.same

    def is_near(self, sim: float, shared_form: bool, is_compatible: bool) -> bool:
        """Whether a question counts as a candidate of another (a partner or a rival)."""
        return sim >= self.same - self.margin or (
            self.form_route and shared_form and is_compatible and sim >= self.form - self.margin
        )

    def is_viable(self, sim: float, shared_form: bool) -> bool:
        """Whether two compatible questions are alike enough to be joined (rivals permitting)."""
        return sim >= self.same or (self.form_route and shared_form and sim >= self.form)


def compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two questions can ask the same fact only when one names nothing the other does not.

    >>> compatible(frozenset({"pro"}), frozenset({"pro", "nordlicht"}))
    True
    >>> compatible(frozenset({"pro"}), frozenset({"team"}))
    False
    """
    return a <= b or b <= a


def similarity(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Cosines of unit rows with a unit vector, summed in float64 and kept as float32: the same
    pair gets the same value whichever side it is computed from and however rows are grouped,
    so an incremental plan compares exactly what a full one does."""
    exact = rows.astype(np.float64) @ vector.astype(np.float64)
    return exact.astype(np.float32)


class Askers(Protocol):
    """What fact identity asks of the questions of a corpus (`AskerIndex` in memory, or the fact
    state's in SQL with a scope's own laid over them)."""

    def get(self, key: str) -> Asker | None:
        """The asker of a normalised question."""
        ...

    def vector(self, key: str) -> np.ndarray:
        """Its question vector."""
        ...

    def partners(self, asker: Asker, vector: np.ndarray, rules: Rules) -> list[tuple[str, float]]:
        """(key, cosine) of every question `asker` could be joined with."""
        ...

    def scan(self, vectors: np.ndarray, floors: np.ndarray) -> Iterator[tuple[int, str, float]]:
        """(query row, key, cosine) of every question more alike than its query's floor."""
        ...


def viable_among(
    asker: Asker, vector: np.ndarray, others: Sequence[Asker], rows: np.ndarray, rules: Rules
) -> list[tuple[str, float]]:
    """(key, cosine) of those of `others` (compatible with `asker`; their vectors `rows`) it
    could be joined with: asking for no other kind of answer, alike enough (`Rules.is_viable`)."""
    if not others:
        return []
    found = []
    floor = min(rules.same, rules.form) if rules.form_route else rules.same
    for other, sim in zip(others, similarity(rows, vector).tolist(), strict=True):
        if sim < floor or (asker.kind and other.kind and asker.kind != other.kind):
            continue
        if rules.is_viable(sim, bool(asker.forms & other.forms)):
            found.append((other.key, sim))
    return found


def scan_rows(
    keys: Sequence[str], rows: np.ndarray, queries: np.ndarray, floors: np.ndarray
) -> Iterator[tuple[int, str, float]]:
    """(query, key, cosine) of the rows more alike than each query's floor (float64 sums)."""
    block = (rows.astype(np.float64) @ queries.astype(np.float64).T).astype(np.float32)
    hits, cols = np.nonzero(block > floors[None, :])
    for r, c in zip(hits.tolist(), cols.tolist(), strict=True):
        yield c, keys[r], float(block[r, c])


class AskerIndex:
    """Every asker of a corpus with its vector, looked up by key and by the things it names."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.askers: list[Asker | None] = []
        self.rows: dict[str, int] = {}
        self._vectors = np.zeros((0, dimension), np.float32)
        self._size = 0
        self._live = np.zeros(0, bool)
        self._by_name: dict[str, set[int]] = {}
        self._by_names: dict[frozenset[str], set[int]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def get(self, key: str) -> Asker | None:
        """The asker of a normalised question, if indexed."""
        row = self.rows.get(key)
        return None if row is None else self.askers[row]

    def vector(self, key: str) -> np.ndarray:
        """The question vector of an indexed asker."""
        return self._vectors[self.rows[key]]

    def add(self, asker: Asker, vector: np.ndarray) -> None:
        """Index an asker (replacing one of the same key)."""
        self.remove(asker.key)
        row = self._size
        if row == len(self._vectors):  # grow by half: amortised appends
            grown = max(1024, row + row // 2)
            vectors, live = np.empty((grown, self.dimension), np.float32), np.zeros(grown, bool)
            vectors[:row], live[:row] = self._vectors[:row], self._live[:row]
            self._vectors, self._live = vectors, live
        self._vectors[row] = vector
        self._live[row] = True
        self._size += 1
        self.askers.append(asker)
        self.rows[asker.key] = row
        for name in asker.names:
            self._by_name.setdefault(name, set()).add(row)
        self._by_names.setdefault(asker.names, set()).add(row)

    def remove(self, key: str) -> None:
        """Drop an asker (its row stays, dead, until the index is built again)."""
        row = self.rows.pop(key, None)
        if row is None:
            return
        asker = self.askers[row]
        assert asker is not None
        for name in asker.names:
            self._by_name[name].discard(row)
        self._by_names[asker.names].discard(row)
        self.askers[row] = None
        self._live[row] = False

    def candidates(self, asker: Asker) -> list[int]:
        """Rows of the askers compatible with `asker` (itself excluded): those naming all it
        names, and those naming a part of it (nothing at all included).

        A question that names nothing, or very many things, is compatible with (nearly)
        everyone: every live row."""
        if not asker.names or len(asker.names) > SUBSETS_MAX:
            found = set(np.flatnonzero(self._live[: self._size]).tolist())
        else:
            postings = sorted((self._by_name.get(n, set()) for n in asker.names), key=len)
            found = set(postings[0]).intersection(*postings[1:])
            for size in range(len(asker.names)):
                for part in combinations(sorted(asker.names), size):
                    found |= self._by_names.get(frozenset(part), set())
        found.discard(self.rows.get(asker.key, -1))
        return sorted(found)

    def partners(self, asker: Asker, vector: np.ndarray, rules: Rules) -> list[tuple[str, float]]:
        """(key, cosine) of every asker `asker` could be joined with: compatible, asking for no
        other kind of answer, and alike enough (`Rules.is_viable`)."""
        rows = self.candidates(asker)
        others = [self.askers[r] for r in rows]
        return viable_among(asker, vector, others, self._vectors[rows], rules)  # type: ignore[arg-type]

    def scan(self, vectors: np.ndarray, floors: np.ndarray) -> Iterator[tuple[int, str, float]]:
        """(query row, asker key, cosine) of every asker more alike than its query's floor, one
        block of the index at a time (a query's own asker included when it is indexed)."""
        if not len(vectors):
            return
        for start in range(0, self._size, SCAN_BLOCK):
            live = np.flatnonzero(self._live[start : start + SCAN_BLOCK]) + start
            keys = [self.askers[r].key for r in live.tolist()]  # type: ignore[union-attr]
            yield from scan_rows(keys, self._vectors[live], vectors, floors)

    def live(self) -> Iterable[Asker]:
        """Every indexed asker."""
        return (a for a in self.askers if a is not None)
