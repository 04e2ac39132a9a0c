"""The questions of the fact state, looked up in SQL as a scope asks for them, with the scope's
own questions laid over those it replaces.

An incremental rebuild reads only the questions its changed ones can be joined with (found by
the things they name) and, for a question with a partner, streams every vector once to find its
rivals; nothing else of the corpus is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

import numpy as np

from rag.factstate import FactState
from rag.neighbours import (
    SCAN_BLOCK,
    SUBSETS_MAX,
    Asker,
    AskerIndex,
    Rules,
    scan_rows,
    viable_among,
)


class StateAskers:
    """`rag.neighbours.Askers` over the fact state: the stored questions but `hidden` (those of
    the groups being decided again), and `scope`, their replacements, in memory."""

    def __init__(self, state: FactState, scope: AskerIndex, hidden: set[str]) -> None:
        self.state, self.scope, self.hidden = state, scope, hidden
        self._rows: dict[str, tuple[Asker, float | None, int, np.ndarray]] = {}

    def _stored(self, keys: set[str]) -> None:
        missing = {k for k in keys if k not in self._rows and k not in self.hidden}
        if missing:
            self._rows.update(self.state.stored_askers(missing))

    def get(self, key: str) -> Asker | None:
        """The asker of a normalised question: the scope's, else the stored one."""
        if key in self.scope:
            return self.scope.get(key)
        self._stored({key})
        row = self._rows.get(key)
        return None if row is None else row[0]

    def vector(self, key: str) -> np.ndarray:
        """Its question vector."""
        if key in self.scope:
            return self.scope.vector(key)
        self._stored({key})
        return self._rows[key][3]

    def comp(self, key: str) -> int | None:
        """The stored group of a question outside the scope."""
        self._stored({key})
        row = self._rows.get(key)
        return None if row is None else row[2]

    def partners(self, asker: Asker, vector: np.ndarray, rules: Rules) -> list[tuple[str, float]]:
        """(key, cosine) of every question `asker` could be joined with, in the scope or stored."""
        found = self.scope.partners(asker, vector, rules)
        keys = self._compatible(asker) - self.hidden - set(self.scope.rows) - {asker.key}
        self._stored(keys)
        rows = [self._rows[k] for k in sorted(keys) if k in self._rows]
        others = [r[0] for r in rows]
        vectors = np.stack([r[3] for r in rows]) if rows else np.zeros((0, len(vector)), np.float32)
        return found + viable_among(asker, vector, others, vectors, rules)

    def _compatible(self, asker: Asker) -> set[str]:
        """Stored questions that name all `asker` names, or a part of it (nothing included)."""
        if not asker.names or len(asker.names) > SUBSETS_MAX:
            return self.state.all_keys()
        found = self.state.keys_naming_all(asker.names)
        for size in range(len(asker.names)):
            for part in combinations(sorted(asker.names), size):
                found |= self.state.keys_naming_exactly(frozenset(part))
        return found

    def scan(self, vectors: np.ndarray, floors: np.ndarray) -> Iterator[tuple[int, str, float]]:
        """(query row, key, cosine) of every question above its query's floor: the scope's, then
        every stored one but the hidden, streamed from the state."""
        if not len(vectors):
            return
        yield from self.scope.scan(vectors, floors)
        for keys, rows in self.state.vector_blocks(SCAN_BLOCK):
            live = [i for i, k in enumerate(keys) if k not in self.hidden and k not in self.scope]
            if live:
                yield from scan_rows([keys[i] for i in live], rows[live], vectors, floors)
