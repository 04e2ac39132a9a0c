"""Question-only embeddings and the pairs of questions that are close, cached across rebuilds.

Which records state the same fact is decided from their questions alone. Comparing every question
with every other is quadratic (about 18 s at 20k questions on two cores), so the vectors and the
close pairs found so far are kept in the work folder: a rebuild embeds only questions it has not
seen and compares only those with the rest.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from hashlib import sha1
from pathlib import Path

import numpy as np

CACHE = "questions.npz"
BLOCK = 1_024  # rows per similarity block: a 1k x N float32 block stays small in memory

Encode = Callable[[list[str]], np.ndarray]  # texts -> unit-length rows


def text_key(text: str) -> str:
    """A short stable key for a question text.

    >>> text_key("How tall is the tower?") == text_key("How tall is the tower?")
    True
    >>> len(text_key("x"))
    16
    """
    return sha1(text.encode()).hexdigest()[:16]


def close_pairs(
    new: np.ndarray, old: np.ndarray, threshold: float, same: bool
) -> list[tuple[int, int, float]]:
    """(row of `new`, row of `old`, cosine) for rows at least `threshold` alike; `same` when both
    are one matrix (then each unordered pair once, never a row with itself).

    >>> a = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
    >>> [(i, j, round(s, 2)) for i, j, s in close_pairs(a, a, 0.75, same=True)]
    [(1, 2, 0.8)]
    >>> [(i, j) for i, j, _ in close_pairs(a[:1], a[1:], 0.5, same=False)]
    [(0, 0)]
    """
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(new), BLOCK):
        block = new[start : start + BLOCK] @ old.T
        rows, cols = np.nonzero(block >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if not same or i < c:
                found.append((i, c, float(block[r, c])))
    return found


class QuestionVectors:
    """Question vectors by text key, and the close pairs among them, for one embedding model."""

    def __init__(self, folder: Path | None, model: str, encode: Encode) -> None:
        self.path = folder / CACHE if folder is not None else None
        self.model = model
        self.encode = encode
        self.vectors: dict[str, np.ndarray] = {}
        self.pairs: dict[tuple[str, str], float] = {}  # (key, key) in sorted order -> cosine
        self.floor = 1.0  # pairs at or above this cosine are all in `pairs`
        self._load()

    def similar(self, texts: Sequence[str], threshold: float) -> list[tuple[int, int, float]]:
        """(i, j, cosine) for every pair of `texts` (i < j) at least `threshold` alike."""
        keys = [text_key(t) for t in texts]
        unique = list(dict.fromkeys(keys))
        known = [k for k in unique if k in self.vectors]
        if threshold < self.floor:  # the cache holds too few pairs: compare everything again
            self.pairs, known = {}, []
        held = set(known)  # one set: built per element, this was quadratic in the corpus
        fresh = [k for k in unique if k not in held]
        missing = [k for k in fresh if k not in self.vectors]
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            rows = self.encode([text_of[k] for k in missing])
            self.vectors.update(zip(missing, np.asarray(rows, dtype=np.float32), strict=True))
        self._compare(fresh, known, threshold)
        self.floor = threshold
        self._keep(unique)
        self._save()
        index = {k: i for i, k in enumerate(keys)}
        return sorted(
            (min(index[a], index[b]), max(index[a], index[b]), s)
            for (a, b), s in self.pairs.items()
            if s >= threshold and a in index and b in index
        )

    def vector(self, text: str) -> np.ndarray:
        """The vector of a text `similar` has seen."""
        return self.vectors[text_key(text)]

    def _compare(self, fresh: list[str], known: list[str], threshold: float) -> None:
        if not fresh:
            return
        new = np.stack([self.vectors[k] for k in fresh])
        for i, j, s in close_pairs(new, new, threshold, same=True):
            self.pairs[_ordered(fresh[i], fresh[j])] = s
        if known:
            old = np.stack([self.vectors[k] for k in known])
            for i, j, s in close_pairs(new, old, threshold, same=False):
                self.pairs[_ordered(fresh[i], known[j])] = s

    def _keep(self, keys: list[str]) -> None:
        """Forget questions no longer in the corpus, so the cache does not grow without end."""
        wanted = set(keys)
        self.vectors = {k: v for k, v in self.vectors.items() if k in wanted}
        self.pairs = {p: s for p, s in self.pairs.items() if p[0] in wanted and p[1] in wanted}

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if str(data["model"]) != self.model:
                    return
                keys = [str(k) for k in data["keys"]]
                self.vectors = dict(zip(keys, data["vectors"], strict=True))
                a, b, s = data["pair_a"], data["pair_b"], data["pair_sim"]
                self.pairs = {(str(x), str(y)): float(z) for x, y, z in zip(a, b, s, strict=True)}
                self.floor = float(data["floor"])
        except (OSError, ValueError, KeyError):
            self.vectors, self.pairs, self.floor = {}, {}, 1.0  # unreadable: it is only a cache

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        pairs = list(self.pairs.items())
        fd, tmp = tempfile.mkstemp(prefix=".questions.", suffix=".npz", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(
                    handle,
                    model=np.array(self.model),
                    floor=np.array(self.floor),
                    keys=np.array(keys, dtype=str),
                    vectors=(
                        np.stack([self.vectors[k] for k in keys])
                        if keys
                        else np.zeros((0, 0), np.float32)
                    ),
                    pair_a=np.array([p[0] for p, _ in pairs], dtype=str),
                    pair_b=np.array([p[1] for p, _ in pairs], dtype=str),
                    pair_sim=np.array([s for _, s in pairs], dtype=np.float32),
                )
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)
