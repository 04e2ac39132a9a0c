"""One query's vector on ONNX Runtime: the same weights as the sentence-transformers model,
exported once with torch.onnx into the work folder, for the latency of a single query.

A query is one short text: torch's per-call overhead and thread hand-offs are most of its
13 ms on two cores, where ONNX Runtime's fused kernels take a few (on two threads p95 5.4 ms vs 6.4 ms
on one, same vectors; `bench/index.py`). Index builds
keep the sentence-transformers path (large batches, where torch is at its best); the vectors
agree within 1e-5 per component (`tests/test_rag_embedding.py`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def export_path(folder: Path, model_dir: str) -> Path:
    """Where the export of one model lives: named by a hash of its weights' path and size.

    >>> export_path(Path("/w/models"), "/nonexistent/minilm").name.startswith("query-")
    True
    """
    weights = sorted(Path(model_dir).glob("*.safetensors")) + sorted(Path(model_dir).glob("*.bin"))
    stamp = "|".join(f"{p.resolve()}:{p.stat().st_size}" for p in weights) or model_dir
    return folder / f"query-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.onnx"


def export(transformer: Any, path: Path) -> None:
    """Write the transformer + mean pooling + normalisation as one ONNX graph (atomically)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            vector = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(vector, dim=-1)

    model = Pooled(transformer.auto_model).eval()
    sample = transformer.tokenizer(["a query"], return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing are not for users
            torch.onnx.export(
                model,
                (sample["input_ids"], sample["attention_mask"]),
                tmp,
                input_names=["input_ids", "attention_mask"],
                output_names=["vector"],
                dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs only the `onnx` package
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; readers may run as other users
        os.replace(tmp, path)  # readers racing to export write the same bytes: last one wins
    finally:
        Path(tmp).unlink(missing_ok=True)


class OnnxQueryEncoder:
    """Tokenize with the model's own fast tokenizer (no padding) and run the exported graph."""

    def __init__(self, path: Path, transformer: Any, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = path
        options = ort.SessionOptions()
        # two threads split a short query's matrix products well; more mostly wait on each other
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        # a copy: the transformers tokenizer resets padding and truncation on its own per call
        self.tokenizer = Tokenizer.from_str(transformer.tokenizer.backend_tokenizer.to_str())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(transformer.max_seq_length))

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens the model sees per text (the same tokenizer and truncation as `encode`)."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts)]

    def encode(self, text: str) -> np.ndarray:
        """The query's unit-length float32 vector."""
        encoding = self.tokenizer.encode(text)
        feeds = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
        }
        return np.asarray(self.session.run(None, feeds)[0][0], dtype=np.float32)


def open_encoder(folder: Path, model_dir: str, transformer: Any) -> OnnxQueryEncoder:
    """The encoder for a model, exporting it first when this folder has no export yet."""
    path = export_path(folder, model_dir)
    if not path.exists():
        export(transformer, path)
    return OnnxQueryEncoder(path, transformer)
