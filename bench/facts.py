"""Fact-history benchmark: retrieval over facts that change, on the fixture in tests/data/facts.

Usage: python bench/facts.py [--k 5] [--thresholds 0.7,0.75,...] [--fixture DIR]
                             [--embed-model NAME] [--set FIELD=VALUE ...]
Builds an index over the fixture's dated batches in a temporary work folder, asks its reworded
questions today and as of older dates, and prints: changed facts answered with the newest version
when it is in the top k (goal >= 0.95), answers superseded by another fact's record (goal 0),
as-of questions answered with the version current then (goal >= 0.95), the re-confirmation and
A -> B -> A cases, and the precision/recall of same-fact links per threshold with the one chosen.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from corpus import Record, load_corpus  # noqa: E402
from corpus.facts import fact_histories  # noqa: E402
from rag.build import rebuild_index  # noqa: E402
from rag.embedding import embedder_name, load_embedder  # noqa: E402
from rag.facts import Statement, same_fact_pairs  # noqa: E402
from rag.hits import Hit  # noqa: E402
from rag.index import RagIndex  # noqa: E402
from rag.questions import QuestionVectors  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "facts"
THRESHOLDS = "0.70,0.75,0.78,0.80,0.82,0.84,0.86,0.88,0.90,0.92,0.95"
FORM_THRESHOLDS = [0.55, 0.6, 0.65, 0.7, 0.75]
DEMO = Path(__file__).resolve().parent.parent / "data" / "corpus"
# the ten demo facts that change under a new id (data/README.md), each paired with the record it
# replaces by hand; every other pair of different ids in the demo states two facts
DEMO_SAME_FACT = [
    ("nd-storage-free", "nd-storage-free-2026-07"),
    ("nd-refund-window", "nd-refund-window-30"),
    ("nd-trash-retention", "nd-trash-retention-45"),
    ("nd-ru-price-team", "nd-ru-team-seat-price"),
    ("nd-maxfile-pro", "nd-maxfile-pro-100"),
    ("nd-ru-version-history-pro", "nd-ru-version-history-pro-180"),
    ("nd-ru-student-discount", "nd-ru-student-discount-2026-10"),
    ("nd-maxfile-free", "nd-maxfile-free-v2"),
    ("nd-team-max-users", "nd-team-user-limit"),
    ("nd-company-users", "nd-company-users-3m"),
]


def load_batches(folder: Path) -> list[Record]:
    """Every record of a folder of dated batches (re-confirmations in later batches are kept)."""
    report = load_corpus([folder])
    if report.rejects:
        raise SystemExit("\n".join(str(r) for r in report.rejects))
    return report.records


def truth_of(fixture: Path, records: list[Record]) -> dict[str, str]:
    """record id -> the fact it states, from the fixture's histories.json."""
    by_line = {(f"corpus/{Path(r.source.file).name}", r.source.line): r.id for r in records}
    fact_of: dict[str, str] = {}
    for fact in json.loads((fixture / "histories.json").read_text(encoding="utf-8")):
        for line in fact["lines"]:
            fact_of[by_line[(line["file"], line["line"])]] = fact["fact"]
    return fact_of


def link_curve(
    name: str,
    records: list[Record],
    true: set[tuple[str, str]],
    thresholds: list[float],
    chosen: RagSettings,
) -> None:
    """Precision and recall of "same fact" between records of different ids, per question
    threshold alone, then at the chosen one with answers of one form joined from lower ones."""
    statements = [Statement.of(r) for r in records]
    questions = QuestionVectors(None, "bench", load_embedder(chosen.embed_model).encode)

    def row(label: str, threshold: float, form: float) -> None:
        pairs = same_fact_pairs(statements, questions, threshold, form)
        linked = set()
        for history in fact_histories(records, pairs):
            group = sorted(set(history.record_ids))
            linked |= {(a, b) for i, a in enumerate(group) for b in group[i + 1 :]}
        right = len(linked & true)
        precision = right / len(linked) if linked else 1.0
        print(f"  {label:>24}  {len(linked):6}  {precision:9.3f}  {right / len(true):6.3f}")

    print(f"\n{name}: same-fact links between records of different ids ({len(true)} true pairs):")
    print(f"  {'question threshold':>24}  linked  precision  recall")
    for t in thresholds:
        row(f"{t:.2f}", t, 1.0)
    tuned = chosen.tuned(embedder_name(chosen))
    print(f"  {'+ one answer form from':>24}  (questions >= {tuned.same_fact:.2f} or this)")
    for form in FORM_THRESHOLDS:
        mark = " (RAG_SAME_FACT_FORM)" if form == tuned.same_fact_form else ""
        row(f"{form:.2f}{mark}", tuned.same_fact, form)


def read_lines(path: Path) -> list[dict]:
    """The JSON objects of a JSONL file."""
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()).rstrip(".") == " ".join(b.casefold().split()).rstrip(".")


def ask(index: RagIndex, items: list[dict], k: int, fact_of: dict[str, str]) -> list[dict]:
    """Each item with what retrieval returned: the answer, the rank of the right version, harm."""
    out = []
    for item in items:
        day = date.fromisoformat(item["as_of"]) if item["as_of"] else None
        hits = index.retrieve(item["question"], k=k, as_of=day)
        fresh = [h for h in hits if not h.stale]
        right = next((n for n, h in enumerate(fresh) if _is_version(h, item, fact_of)), None)
        out.append(
            {
                **item,
                "answer": fresh[0].answer if fresh else "",
                "correct": bool(fresh) and same(fresh[0].answer, item["reference"]),
                "in_top_k": right is not None,
                "harm": _harm(hits, item, fact_of),
                "top": fresh[0] if fresh else None,
            }
        )
    return out


def _is_version(hit: Hit, item: dict, fact_of: dict[str, str]) -> bool:
    return fact_of.get(hit.record_id) == item["fact"] and same(hit.answer, item["reference"])


def _harm(hits: list[Hit], item: dict, fact_of: dict[str, str]) -> bool:
    """A hit of the asked fact marked superseded by a record of another fact, or another fact's
    record presented as the asked fact's current version."""
    return any(
        hit.stale
        and fact_of.get(hit.record_id) == item["fact"]
        and fact_of.get(hit.superseded_by or "", item["fact"]) != item["fact"]
        for hit in hits
    )


def share(rows: list[dict], key: str) -> str:
    n = len(rows)
    return f"{sum(r[key] for r in rows) / n:.3f} ({sum(r[key] for r in rows)}/{n})" if n else "-"


def report(today: list[dict], as_of: list[dict], k: int) -> None:
    """The goals, then the cases by shape and language."""
    changed = [r for r in today if r["shape"] not in ("stable", "new", "reconfirmed")]
    retrieved = [r for r in changed if r["in_top_k"]]
    print(f"\nasked today ({len(today)} questions, k={k}):")
    print(
        f"  changed facts answered with the newest version, when it is in the top {k}: "
        f"{share(retrieved, 'correct')}  goal >= 0.95"
    )
    print(f"  changed facts answered with the newest version, all: {share(changed, 'correct')}")
    print(
        f"  answers superseded by another fact's record: {sum(r['harm'] for r in today + as_of)}  goal 0"
    )
    print(f"  every question answered with its current answer: {share(today, 'correct')}")
    in_k = [r for r in as_of if r["in_top_k"]]
    print(f"\nasked as of an older date ({len(as_of)} questions):")
    print(f"  answered with the version current then: {share(as_of, 'correct')}  goal >= 0.95")
    print(f"  ... when that version is in the top {k}: {share(in_k, 'correct')}")
    print("\nby shape (today | as of):")
    shapes: dict[str, tuple[list[dict], list[dict]]] = defaultdict(lambda: ([], []))
    for r in today:
        shapes[r["shape"]][0].append(r)
    for r in as_of:
        shapes[r["shape"]][1].append(r)
    for shape, (a, b) in sorted(shapes.items()):
        print(f"  {shape:20} {share(a, 'correct'):>16} | {share(b, 'correct')}")
    for lang in ("en", "ru"):
        rows = [r for r in today if r["lang"] == lang]
        print(
            f"  today, {lang}: {share(rows, 'correct')}; right version in top {k}: {share(rows, 'in_top_k')}"
        )
    reconfirmed = [r for r in today if r["shape"] in ("reconfirmed", "changed_reconfirmed")]
    latest = sum(
        1
        for r in reconfirmed
        if r["top"] is not None
        and r["correct"]
        and r["top"].last_confirmed is not None
        and r["top"].last_confirmed.year == 2022
    )
    print(
        f"\nre-confirmed facts: answered today {share(reconfirmed, 'correct')}; "
        f"last confirmed in the 2022 batch: {latest}/{len(reconfirmed)}"
    )
    aba = [r for r in today if r["shape"] == "aba"]
    back = sum(1 for r in aba if r["correct"] and r["top"] is not None and r["top"].version == 2)
    print(
        f"A -> B -> A: today answered A from its third version {back}/{len(aba)}; "
        f"as of the B years {share([r for r in as_of if r['shape'] == 'aba'], 'correct')}"
    )


def main(argv: list[str] | None = None) -> int:
    """Build the fixture's index, ask both eval files, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--thresholds", default=THRESHOLDS)
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--show", action="store_true", help="print every wrong answer")
    parser.add_argument("--embed-model", default=None, help="RAG_EMBED_MODEL; default: packaged")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="another RagSettings field (repeatable), e.g. same_fact_form=0.6",
    )  # fmt: skip
    args = parser.parse_args(argv)
    records = load_batches(args.fixture / "corpus")
    fact_of = truth_of(args.fixture, records)
    chosen = RagSettings(
        _env_file=None,
        embed_model=args.embed_model,
        **{k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)},
    )
    print(f"embedder: {embedder_name(chosen)}")
    with tempfile.TemporaryDirectory() as work:
        settings = chosen.model_copy(update={"work_dir": Path(work) / "index"})
        start = time.perf_counter()
        summary = rebuild_index(records, settings)
        print(
            f"fixture: {len(records)} records, {len(set(fact_of.values()))} facts; "
            f"{summary.added} index entries (versions) built in {time.perf_counter() - start:.1f} s"
        )
        print(
            f"same-fact threshold (RAG_SAME_FACT): {settings.tuned(embedder_name(settings)).same_fact}"
        )
        index = RagIndex.open(settings)
        today = ask(index, read_lines(args.fixture / "eval-today.jsonl"), args.k, fact_of)
        as_of = ask(index, read_lines(args.fixture / "eval-as-of.jsonl"), args.k, fact_of)
        report(today, as_of, args.k)
        if args.show:
            for r in today + as_of:
                if not r["correct"]:
                    top = r["top"]
                    got = f"{top.record_id} v{top.version} {top.answer!r}" if top else "-"
                    print(
                        f"  wrong [{r['shape']}, {r['lang']}, as of {r['as_of']}] {r['question']!r}: "
                        f"want {r['reference']!r}, got {got}, right version in top k: {r['in_top_k']}"
                    )
    thresholds = [float(t) for t in args.thresholds.split(",")]
    ids = sorted(set(fact_of))
    true = {(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if fact_of[a] == fact_of[b]}
    link_curve("fact fixture", records, true, thresholds, chosen)
    if DEMO.exists():
        demo = [r for r in load_corpus([DEMO]).records if r.is_qa]
        pairs = {(min(a, b), max(a, b)) for a, b in DEMO_SAME_FACT}
        link_curve("demo corpus", demo, pairs, thresholds, chosen)
    print("\n(timings on a shared machine are provisional)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
