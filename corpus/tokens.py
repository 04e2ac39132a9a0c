"""Token counting that works offline: tiktoken's o200k_base, built from a BPE file shipped here.

tiktoken would download the BPE file (or find it through an environment variable); instead the
file ships beside this module, xz-compressed, is checked against the hash tiktoken itself expects,
and is handed to tiktoken's public `Encoding` constructor. Nothing touches `os.environ`.
"""

from __future__ import annotations

import base64
import lzma
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from typing import Any

ENCODING = "o200k_base"  # the GPT-4o / GPT-4.1 tokenizer
BPE_FILE = Path(__file__).with_name("o200k_base.tiktoken.xz")
# the hash `tiktoken_ext.openai_public.o200k_base` checks its download against
BPE_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
# o200k_base's split pattern and special tokens, as `tiktoken_ext.openai_public` defines them
PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
_APPROX = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def load_encoding(path: Path = BPE_FILE) -> Any:
    """tiktoken's o200k_base from a BPE file (plain or .xz); ValueError if the file is not it."""
    import tiktoken

    data = path.read_bytes()
    if path.suffix == ".xz":
        data = lzma.decompress(data)
    if sha256(data).hexdigest() != BPE_SHA256:
        raise ValueError(f"{path}: not the o200k_base BPE file (sha256 differs)")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(
        name=ENCODING, pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens=SPECIAL_TOKENS
    )


@lru_cache(maxsize=1)
def tokenizer() -> tuple[str, Callable[[Sequence[str]], list[int]]]:
    """(name, batch counter): tiktoken o200k_base, else a word/punctuation count if unavailable."""
    try:
        enc = load_encoding()
    except (ImportError, OSError, ValueError, lzma.LZMAError):
        return "approx (words and punctuation; tiktoken unavailable)", _approx_counts

    encode = enc.encode_ordinary

    def counts(texts: Sequence[str]) -> list[int]:
        # one text at a time: tiktoken's batch call starts a thread pool per call and measured
        # about 3x slower here on 20k short texts
        return [len(encode(text)) for text in texts]

    return f"tiktoken {ENCODING}", counts


def _approx_counts(texts: Sequence[str]) -> list[int]:
    return [len(_APPROX.findall(t)) for t in texts]


def count_tokens(texts: Sequence[str]) -> list[int]:
    """Token counts for many texts at once.

    >>> count_tokens(["Hello, world!", "Привет, мир!"])
    [4, 5]
    """
    return tokenizer()[1](texts)
