"""Token counts come from the shipped o200k_base file, equal tiktoken's own, and touch no environment."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from corpus.tokens import BPE_FILE, count_tokens, load_encoding, tokenizer

TEXTS = [
    "Quarterly revenue of Helvetia Loom AG rose 4.2% to CHF 118.6m in Q3 2031.",
    "Срок поставки для склада в Твери — 12 рабочих дней, с 01.02.2031 — 9.",
    "def ratio(a, b):\n    return a / b if b else float('nan')  # 🙂\n",
    "   \n\n\t leading and trailing whitespace   ",
    "<|endoftext|> is ordinary text here",
    "",
]


def _tiktoken_cache() -> Path:
    """The copy of tiktoken's BPE files llama-index ships: tiktoken's own loader, for reference."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llama-index-core is not installed: no reference copy of the BPE file")
    return Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"


def test_counts_equal_tiktokens_own_encoding(monkeypatch) -> None:
    import tiktoken

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(_tiktoken_cache()))
    official = tiktoken.get_encoding("o200k_base")
    ours = load_encoding()
    for text in TEXTS:
        assert ours.encode_ordinary(text) == official.encode_ordinary(text)
    assert count_tokens(TEXTS) == [len(official.encode_ordinary(t)) for t in TEXTS]


def test_the_tokenizer_reads_the_shipped_file_without_the_environment() -> None:
    before = dict(os.environ)
    tokenizer.cache_clear()
    name, _ = tokenizer()
    assert name == "tiktoken o200k_base" and BPE_FILE.is_file()
    assert dict(os.environ) == before


def test_a_file_that_is_not_o200k_base_is_refused(tmp_path) -> None:
    fake = tmp_path / "o200k_base.tiktoken"
    fake.write_bytes(b"IQ== 0\nIg== 1\n")
    with pytest.raises(ValueError, match="not the o200k_base BPE file"):
        load_encoding(fake)
