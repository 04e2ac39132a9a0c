"""Keyword retrieval (BM25) with Russian and English stemming, fused with dense retrieval by rank.

The packaged embedder is English-trained; exact keywords (names, numbers, Russian stems) help
where its vectors are weak.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

WORD = re.compile(r"\w+", re.UNICODE)
CYRILLIC = re.compile("[а-яё]")


@cache
def _stemmers() -> tuple[Any, Any]:
    import Stemmer

    return Stemmer.Stemmer("english"), Stemmer.Stemmer("russian")


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_RUSSIAN

    return frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_RUSSIAN)


def tokenize(text: str) -> list[str]:
    """Lower-cased word stems without stop words, each stemmed by its own script's stemmer.

    >>> tokenize("Сколько стоит тариф Pro?")
    ['скольк', 'сто', 'тариф', 'pro']
    """
    english, russian = _stemmers()
    stop = _stopwords()
    words = [w for w in WORD.findall(text.lower()) if w not in stop]
    return [russian.stemWord(w) if CYRILLIC.search(w) else english.stemWord(w) for w in words]


class KeywordIndex:
    """BM25 over node texts, with each node's text, metadata and vector kept at hand so a
    keyword-only match needs no round trip to the store."""

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        vectors: np.ndarray,
    ) -> None:
        import bm25s

        self.ids = list(ids)
        self.texts = list(texts)
        self.metadatas = list(metadatas)
        self.vectors = vectors
        self.rows = {node: i for i, node in enumerate(self.ids)}
        self.dates = np.asarray([int(m.get("as_of_int", 0)) for m in metadatas], dtype=np.int64)
        self.bm25 = bm25s.BM25()
        if self.ids:
            self.bm25.index([tokenize(t) or ["\x00"] for t in texts], show_progress=False)

    def search(self, query: str, n: int, as_of: int | None = None) -> list[str]:
        """Node ids of the best `n` keyword matches (score > 0), dated on/before `as_of`."""
        if not self.ids:
            return []
        vocab = self.bm25.vocab_dict
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens:
            return []
        mask = None if as_of is None else (self.dates <= as_of).astype(np.float32)
        scores = self.bm25.get_scores(tokens, weight_mask=mask)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [self.ids[i] for i in top if scores[i] > 0]


def fuse(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion: sum of 1/(k + rank) over every ranking an id appears in.

    >>> fused = fuse([["a", "b"], ["b"]], k=60)
    >>> fused["a"] == 1 / 61, fused["b"] == 1 / 62 + 1 / 61
    (True, True)
    """
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused
