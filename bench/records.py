"""The records the index benchmarks build from: FAQ-like lines, each with its own account number
and a few shared words, and the 1% changes the rebuild benchmarks make to them.

Light on purpose (the corpus package only): `bench/step_process.py` makes them in a process of
its own before it starts timing a rebuild's imports.
"""

from __future__ import annotations

import random
from datetime import date

from corpus import Format, Record, SourceRef, content_hash

WORDS = [
    "storage",
    "backup",
    "region",
    "plan",
    "price",
    "quota",
    "share",
    "folder",
    "sync",
    "device",
    "invoice",
    "team",
    "admin",
    "password",
    "login",
    "export",
    "archive",
    "retention",
    "encryption",
    "bandwidth",
    "upload",
    "limit",
    "support",
]
CITIES = ["Frankfurt", "Dublin", "Helsinki", "Lisbon", "Oslo", "Riga", "Tallinn", "Vilnius"]


def make_record(i: int, version: str = "") -> Record:
    """A ~15-word question with its answer, like a FAQ line."""
    rng = random.Random(i)
    a, b, c = rng.sample(WORDS, 3)
    question = f"What is the {a} {b} for {c} account {i} in {rng.choice(CITIES)} this year?"
    answer = f"The {a} {b} for account {i} is {rng.randint(1, 999)}{version}."
    return Record(
        id=f"r{i}",
        format=Format.PROMPT_COMPLETION,
        question=question,
        answer=answer,
        as_of=date(2026, 3, 1),
        batch="2026-03-01",
        source=SourceRef(file="bench.jsonl", line=i + 1),
        content_hash=content_hash([("user", question), ("assistant", answer)]),
    )


def change_every(records: list[Record], step: int, offset: int) -> list[Record]:
    """`records` with every `step`-th one, from `offset`, given a new answer (1% at step 100)."""
    return [
        make_record(i, f" (changed {offset})") if i % step == offset else record
        for i, record in enumerate(records)
    ]
