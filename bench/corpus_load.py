"""Load + validate a generated 100k-line corpus; print its time against bare json.loads in the same run.

Each repeat times the bare parse and the loader back to back and the best of each is kept, so a
busy machine slows both alike. Two loader paths: `load_corpus` (every record kept in a list) and
`iter_load` (records streamed and dropped, as validate and report use it).

Usage: python bench/corpus_load.py [--lines N] [--repeats R]
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

from corpus import iter_load, load_corpus


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


def interleaved(repeats: int, funcs: dict[str, Callable[[], None]]) -> dict[str, float]:
    """The fastest time of each function, the functions taking turns in every repeat."""
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_corpus(Path(tmp), args.lines)

        def bare() -> None:
            for path in paths:
                for raw in path.read_bytes().splitlines():
                    json.loads(raw)

        def listed() -> None:
            report = load_corpus(paths)
            assert len(report.records) == args.lines and report.ok

        def streamed() -> None:
            assert sum(1 for _ in iter_load(paths)) == args.lines + len(paths)

        times = interleaved(args.repeats, {"bare": bare, "list": listed, "stream": streamed})
    base = times["bare"]
    print(f"lines                  {args.lines:,}")
    print(f"bare json.loads        {args.lines / base:,.0f} lines/s  (baseline)")
    for name, label in (("list", "load_corpus (list)"), ("stream", "iter_load (stream)")):
        t = times[name]
        print(f"{label:<22} {args.lines / t:,.0f} records/s  ({t / base:.2f}x the baseline's time)")
    print("goal                   <= 3x the baseline's time")


if __name__ == "__main__":
    main()
