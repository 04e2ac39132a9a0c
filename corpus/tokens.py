"""Token counting that works offline: tiktoken's o200k_base from the copy llama-index-core ships."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

ENCODING = "o200k_base"  # the GPT-4o / GPT-4.1 tokenizer
_APPROX = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _shipped_cache() -> Path | None:
    """llama-index-core ships tiktoken's BPE files; find them without importing llama-index."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"
    return path if path.is_dir() else None


@lru_cache(maxsize=1)
def tokenizer() -> tuple[str, Callable[[Sequence[str]], list[int]]]:
    """(name, batch counter): tiktoken o200k_base when available offline, else a word/punct count."""
    cache = _shipped_cache()
    if cache is not None:
        # tiktoken reads its cache location only from the environment
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
    try:
        import tiktoken

        enc = tiktoken.get_encoding(ENCODING)
    except Exception:
        return "approx (words and punctuation; tiktoken unavailable)", _approx_counts

    def counts(texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in enc.encode_ordinary_batch(list(texts), num_threads=2)]

    return f"tiktoken {ENCODING}", counts


def _approx_counts(texts: Sequence[str]) -> list[int]:
    return [len(_APPROX.findall(t)) for t in texts]


def count_tokens(texts: Sequence[str]) -> list[int]:
    """Token counts for many texts at once."""
    return tokenizer()[1](texts)
