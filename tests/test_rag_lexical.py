"""The n-gram index scores a query through its own n-grams' postings: the same cosines as the
query's vector against every node's, on texts of every trainer format and of the demo corpus."""

from __future__ import annotations

import numpy as np
import pytest

from corpus import load_corpus
from rag.lexical import KeywordIndex
from rag.nodes import record_texts
from tests.conftest import DEMO_CORPUS, FORMATS_DIR

QUERIES = [
    "What is the refund window?",
    "Какая скидка положена постоянному клиенту?",
    "2026-03-01",
    "ACME-42",
    "zzzz qqqq",  # no n-gram in common with any node
    "",
]


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    records = load_corpus([FORMATS_DIR, DEMO_CORPUS]).records
    texts = [t for r in records for t in record_texts(r, 200, 20)]
    ids = [f"n{i}" for i in range(len(texts))]
    metadatas = [{"valid_from": 20260101 + i % 300} for i in range(len(texts))]
    return KeywordIndex(ids, texts, metadatas, np.zeros((len(texts), 4), np.float32))


@pytest.mark.parametrize("query", QUERIES)
def test_scores_are_the_cosines_of_the_query_with_every_node(
    index: KeywordIndex, query: str
) -> None:
    every = index.vectorizer.transform(index.texts) @ index.vectorizer.transform([query]).T
    expected = np.asarray(every.toarray()).ravel()
    scores = index.scores(query)
    assert scores.shape == (len(index.ids),)
    assert np.allclose(scores, expected, atol=1e-6)
    if query.startswith("Какая"):
        assert expected.max() > 0, "a Russian query shares n-grams with the Russian records"


def test_search_ranks_by_those_scores_and_keeps_the_date_limit(index: KeywordIndex) -> None:
    query = QUERIES[1]
    scores = index.scores(query)
    found = index.search(query, 5)
    assert [scores[index.rows[node]] for node in found] == sorted(
        (scores[index.rows[node]] for node in found), reverse=True
    )
    assert scores[index.rows[found[0]]] == scores.max()
    limit = int(np.median(index.dates))
    limited = index.search(query, 20, as_of=limit)
    assert limited, "nodes stated by the limit match too"
    for node in limited:
        assert index.dates[index.rows[node]] <= limit
    assert index.search("zzzz qqqq", 5) == []
