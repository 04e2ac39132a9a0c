"""Question-only embeddings by text, embedded once and kept across rebuilds.

Which records state the same fact is decided from their questions alone; a rebuild embeds only
the questions it has not seen before, and the vectors it keeps are the ones the index's
question nodes are written with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from hashlib import sha1
from typing import Protocol

import numpy as np

Encode = Callable[[list[str]], np.ndarray]  # texts -> unit-length rows


class VectorStore(Protocol):
    """Where question vectors outlive a rebuild (`rag.factstate.FactState`)."""

    def get_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those keys that have one."""
        ...

    def put_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        """Keep new vectors (with the rest of the state's next commit)."""
        ...


class TokenStore(Protocol):
    """Where the token counts of stored question vectors outlive a rebuild."""

    def get_tokens(self, keys: Iterable[str]) -> dict[str, int]:
        """The stored counts of those keys that have one."""
        ...

    def put_tokens(self, counts: dict[str, int]) -> None:
        """Keep counts of questions whose vectors are stored."""
        ...


def question_tokens(
    texts: Sequence[str], count: Callable[[list[str]], list[int]], store: TokenStore | None
) -> list[int]:
    """The embedder's tokens per question whose vector fact identity gave (its node is written
    without encoding it): stored, else counted by `count` and then kept.

    Counting needs the embedder's tokenizer, which in a rebuild's own process is the whole
    model: a 1% rebuild of 200k records in a new process loaded it for 2.4 s only to count its
    2,000 questions again; their counts are kept beside their vectors instead.

    >>> class Store(dict):
    ...     def get_tokens(self, keys): return {k: self[k] for k in keys if k in self}
    ...     def put_tokens(self, counts): self.update(counts)
    >>> store, asked = Store(), []
    >>> count = lambda texts: asked.extend(texts) or [len(t.split()) for t in texts]
    >>> question_tokens(["How tall?", "Who built it then?"], count, store)
    [2, 4]
    >>> question_tokens(["Who built it then?", "Why?"], count, store), asked
    ([4, 1], ['How tall?', 'Who built it then?', 'Why?'])
    """
    if not texts:
        return []
    keys = [text_key(t) for t in texts]
    known = store.get_tokens(set(keys)) if store is not None else {}
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in known))
    if missing:
        fresh = dict(zip((text_key(t) for t in missing), count(missing), strict=True))
        known.update(fresh)
        if store is not None:
            store.put_tokens(fresh)
    return [known[k] for k in keys]


def text_key(text: str) -> str:
    """A short stable key for a question text.

    >>> text_key("How tall is the tower?") == text_key("How tall is the tower?")
    True
    >>> len(text_key("x"))
    16
    """
    return sha1(text.encode()).hexdigest()[:16]


class QuestionVectors:
    """Question vectors by text key for one embedding model: from memory, else the store, else
    encoded (and then kept)."""

    def __init__(self, store: VectorStore | None, model: str, encode: Encode) -> None:
        self.store = store
        self.model = model
        self.encode = encode
        self.known: dict[str, np.ndarray] = {}
        self.encoded = 0  # texts this object had to encode

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text, encoding only texts never seen before."""
        keys = [text_key(t) for t in texts]
        wanted = [k for k in dict.fromkeys(keys) if k not in self.known]
        if wanted and self.store is not None:
            self.known.update(self.store.get_vectors(wanted))
        missing = [k for k in wanted if k not in self.known]
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            rows = np.asarray(self.encode([text_of[k] for k in missing]), dtype=np.float32)
            fresh = dict(zip(missing, rows, strict=True))
            self.known.update(fresh)
            self.encoded += len(fresh)
            if self.store is not None:
                self.store.put_vectors(fresh)
        if not keys:
            return np.zeros((0, 0), np.float32)
        return np.stack([self.known[k] for k in keys])

    def vector(self, text: str) -> np.ndarray | None:
        """The vector of a text already seen, else None."""
        return self.known.get(text_key(text))
