"""Embeddings from an OpenAI-compatible `/v1/embeddings` server (text-embeddings-inference, vLLM,
infinity, OpenAI, the project's own `tuning.serve --embed-model packaged`) through llama-index's
OpenAI-like embedding class: batches, several in flight at once, retries with backoff.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.errors import EmbeddingModelError

SEPARATOR = "#"  # an embedder's name in the manifest: `URL#model`


def remote_name(url: str, model: str) -> str:
    """How the manifest names a server's model (the key never appears in it).

    >>> remote_name("http://10.0.0.5:8080/v1/", "bge-small-en")
    'http://10.0.0.5:8080/v1#bge-small-en'
    """
    return f"{url.rstrip('/')}{SEPARATOR}{model}"


def split_remote(name: str) -> tuple[str, str] | None:
    """(URL, model) of a remote embedder's name; None for a local model name or path.

    >>> split_remote("http://10.0.0.5:8080/v1#bge-small-en"), split_remote("/models/minilm")
    (('http://10.0.0.5:8080/v1', 'bge-small-en'), None)
    """
    if not name.startswith(("http://", "https://")) or SEPARATOR not in name:
        return None
    url, model = name.rsplit(SEPARATOR, 1)
    return url, model


class RemoteEmbedder:
    """A server's embedding model behind the same methods as the local `Embedder`."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None,
        batch_size: int,
        concurrency: int,
        retries: int,
        timeout_s: float,
    ) -> None:
        from llama_index.embeddings.openai_like import OpenAILikeEmbedding

        self.name = remote_name(url, model)
        self.batch_size = batch_size
        self.llama = OpenAILikeEmbedding(
            model_name=model,
            api_base=url.rstrip("/"),
            api_key=api_key or "none",  # the client needs a string; local servers ignore it
            embed_batch_size=batch_size,
            num_workers=concurrency,  # batches in flight at once
            max_retries=retries,
            timeout=timeout_s,
        )
        # one event loop for the life of the embedder: the async client stays bound to it
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        """The vector size, asked of the server once."""
        if self._dimension is None:
            self._dimension = int(self.encode(["dimension"]).shape[1])
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text (batches sent concurrently)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        work = self.llama.aget_text_embedding_batch(list(texts))
        try:
            rows = asyncio.run_coroutine_threadsafe(work, self._loop).result()
        except Exception as err:
            raise EmbeddingModelError(
                f"embeddings server {self.name.rsplit(SEPARATOR, 1)[0]} failed: "
                f"{type(err).__name__}: {err} — check RAG_EMBED_URL and RAG_EMBED_API_MODEL"
            ) from err
        vectors = np.asarray(rows, dtype=np.float32)
        self._dimension = int(vectors.shape[1])
        # servers differ on normalisation; cosine search and the stored scores assume unit length
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def encode_query(self, text: str) -> np.ndarray:
        """One query's unit-length vector."""
        return self.encode([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """An estimate (tiktoken o200k_base): llama-index does not pass the server's usage on."""
        from corpus.tokens import count_tokens

        return count_tokens(list(texts))

    def close(self) -> None:
        """Stop the event loop thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)

    def __del__(self) -> None:
        loop: Any = getattr(self, "_loop", None)
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
