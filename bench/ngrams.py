"""N-gram scoring benchmark: `KeywordIndex.scores` (the query's own n-grams' postings, by column)
against the row-wise product of every node's n-gram vector with the query's, on the same index in
the same run, over `bench/index.py`'s generated records (English) and Russian questions.

Usage: python bench/ngrams.py [--records 100000] [--queries 40]
Both ways must give the same cosines; the figures are p50/p95 per query and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from bench.index import p50_p95, timings  # noqa: E402
from bench.records import make_record  # noqa: E402
from rag.lexical import KeywordIndex  # noqa: E402
from rag.nodes import record_texts  # noqa: E402

RUSSIAN = [
    "Какая скидка положена клиенту 2526?",
    "Кто администратор папки для счёта 17 в Дублине?",
    "Сколько дней длится возврат?",
    "Какой лимит у экспортного счёта 908?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()

    texts: list[str] = []
    for i in range(args.records):
        record = make_record(i)
        texts += [*record_texts(record, 200, 20), record.prompt_text()]  # as the index's nodes
    start = time.perf_counter()
    index = KeywordIndex(
        [f"n{i}" for i in range(len(texts))],
        texts,
        [{"valid_from": 20260101}] * len(texts),
        np.zeros((len(texts), 1), np.float32),
    )
    print(f"{len(texts):,} nodes, n-gram index built in {time.perf_counter() - start:.1f} s")
    rows = index.postings.tocsr()  # type: ignore[union-attr]  # the baseline's layout
    step = max(1, args.records // args.queries)
    queries = [make_record(i * step + 3).prompt_text() for i in range(args.queries)] + RUSSIAN
    # each way over all queries in turn: interleaved, the baseline's large temporaries put
    # 300 ms pauses into the other's timings
    ours: dict[str, np.ndarray] = {}
    theirs: dict[str, np.ndarray] = {}

    def by_column(query: str) -> None:
        ours[query] = index.scores(query)

    def row_wise(query: str) -> None:
        q = index.vectorizer.transform([query])
        theirs[query] = np.asarray((rows @ q.T).toarray()).ravel()

    new, old = p50_p95(timings(by_column, queries)), p50_p95(timings(row_wise, queries))
    for query in queries:
        assert np.allclose(ours[query], theirs[query], atol=1e-6), f"scores differ for {query!r}"
    print(f"{len(queries)} queries, same cosines both ways")
    print(f"row-wise product (baseline)   p50 {old[0]:.1f} ms, p95 {old[1]:.1f} ms")
    print(
        f"the query's postings          p50 {new[0]:.1f} ms, p95 {new[1]:.1f} ms "
        f"= {new[0] / old[0]:.2f}x / {new[1] / old[1]:.2f}x"
    )


if __name__ == "__main__":
    main()
