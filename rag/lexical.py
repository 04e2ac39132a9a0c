"""Lexical retrieval by character n-grams (TF-IDF), fused with dense retrieval by weighted score.

The packaged embedder is English-trained: on Russian text its vectors barely tell one question
from another. Character 3-5-grams match Russian word forms without a stemmer ("скидку",
"скидки") and keep names and figures exact. Measured against BM25 with Snowball stems (the
previous keyword retrieval) on Cyrillic questions of the demo eval and the fact fixture, with
each fact's current version only: hit@1 BM25 fused by rank 18/28 and 35/42, n-grams fused by
score (0.3 dense + 0.7 n-grams, with the name rule) 23/28 and 41/42.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

CYRILLIC = re.compile("[а-яё]")
NGRAMS = (3, 5)


class KeywordIndex:
    """Character n-gram TF-IDF over node texts, with each node's text, metadata and vector kept
    at hand so a lexical-only match needs no round trip to the store."""

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        vectors: np.ndarray,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.ids = list(ids)
        self.texts = list(texts)
        self.metadatas = list(metadatas)
        self.vectors = vectors
        self.rows = {node: i for i, node in enumerate(self.ids)}
        self.dates = np.asarray([int(m.get("valid_from", 0)) for m in metadatas], dtype=np.int64)
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, dtype=np.float32
        )
        # by column (an n-gram's postings: the nodes holding it, with its weight in each), so a
        # query reads only its own n-grams' postings; the row-wise product with the query went
        # through every node's n-grams (400k nodes: p50 264 -> 54 ms, p95 295 -> 67 ms,
        # bench/ngrams.py)
        self.postings = self.vectorizer.fit_transform(self.texts).tocsc() if self.ids else None

    def scores(self, query: str) -> np.ndarray:
        """Cosine of the query's n-gram vector with every node's (0 where nothing is shared)."""
        if self.postings is None:
            return np.zeros(0, dtype=np.float32)
        q = self.vectorizer.transform([query])
        return np.asarray(self.postings[:, q.indices] @ q.data).ravel()

    def search(self, query: str, n: int, as_of: int | None = None) -> list[str]:
        """Node ids of the best `n` lexical matches (score > 0), first stated on/before `as_of`."""
        return self.top(self.scores(query), n, as_of)

    def top(self, scores: np.ndarray, n: int, as_of: int | None = None) -> list[str]:
        """`search` for a query already scored (`scores`): a fused search needs the scores of
        every node it blends too, and scoring the query twice took half its time (400k nodes)."""
        if not len(scores):
            return []
        if as_of is not None:
            scores = np.where(self.dates <= as_of, scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [self.ids[i] for i in top if scores[i] > 0]


def blend(dense: float, lexical: float, dense_weight: float) -> float:
    """The fused score of a node: a weighted mean of its dense and lexical cosines.

    >>> round(blend(0.6, 0.2, 0.3), 2)
    0.32
    """
    return dense_weight * dense + (1.0 - dense_weight) * lexical
