"""Load + validate a generated 100k-line corpus; print records/s against bare json.loads in the same run.

Usage: python bench/corpus_load.py [--lines N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import load_corpus


def _line(i: int, rng: random.Random) -> dict[str, object]:
    """One line in one of the seed shapes, with some Cyrillic and a date now and then."""
    q, a = (
        f"Вопрос {i}: сколько стоит тариф {rng.randint(1, 99)}?",
        f"Ответ {i}: {rng.randint(1, 999)} евро.",
    )
    shapes: list[dict[str, object]] = [
        {"prompt": q, "completion": a},
        {"instruction": q, "input": "", "output": a},
        {"input_text": q, "output_text": a},
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": q},
                {"role": "assistant", "content": a},
            ]
        },
        {
            "contents": [
                {"role": "user", "parts": [{"text": q}]},
                {"role": "model", "parts": [{"text": a}]},
            ]
        },
        {"text": f"{q} {a}"},
        {"text": q, "label": rng.choice(["billing", "bug", "feature"])},
    ]
    line = shapes[i % len(shapes)]
    line["id"] = f"r{i}"
    if i % 5 == 0:
        line["as_of"] = "2026-03-01"
    return line


def write_corpus(directory: Path, lines: int) -> list[Path]:
    """Write `lines` lines across one file per shape (one format per file, as platforms want)."""
    rng = random.Random(7)
    handles: dict[int, list[str]] = {}
    for i in range(lines):
        handles.setdefault(i % 7, []).append(json.dumps(_line(i, rng), ensure_ascii=False))
    paths = []
    for shape, rows in handles.items():
        path = directory / f"2026-03-01-shape{shape}.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def best_of(repeats: int, func: Callable[[], None]) -> float:
    """The fastest of a few runs (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_corpus(Path(tmp), args.lines)

        def bare() -> None:
            for path in paths:
                for raw in path.read_bytes().splitlines():
                    json.loads(raw)

        def full() -> None:
            report = load_corpus(paths)
            assert len(report.records) == args.lines and report.ok

        baseline = best_of(args.repeats, bare)
        loader = best_of(args.repeats, full)
    print(f"lines                  {args.lines:,}")
    print(f"bare json.loads        {args.lines / baseline:,.0f} lines/s  (baseline)")
    print(
        f"load + validate        {args.lines / loader:,.0f} records/s  ({loader / baseline:.2f}x the baseline's time)"
    )
    print("goal                   >= 50,000 records/s on 2 cores")


if __name__ == "__main__":
    main()
