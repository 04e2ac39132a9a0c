"""Does a tuned model know its training data? Token-F1 of tuned vs base on the training questions
(the comparison's own `answers.metrics.token_f1`, so the probe and the eval score alike).

python -m tuning.probe --adapter data/adapters/smollm2-demo-2026-03 --corpus data/corpus
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from answers.metrics import token_f1
from corpus.offline import use_offline_defaults
from corpus.record import Record
from tuning.data import to_dicts, with_question
from tuning.errors import TuningError
from tuning.manifest import TuningManifest
from tuning.paraphrase import paraphrases


class ProbeItem(BaseModel):
    """One question asked of both models."""

    record_id: str
    question: str
    reference: str
    base: str
    tuned: str
    base_f1: float
    tuned_f1: float


class ProbeReport(BaseModel):
    """Mean token-F1 of each model over the questions asked."""

    adapter: str
    questions: int
    paraphrased: bool
    base_f1: float
    tuned_f1: float
    seconds: float
    items: list[ProbeItem]


def questions_of(
    records: Sequence[Record], paraphrased: bool
) -> list[tuple[Record, list[dict[str, str]]]]:
    """(record, prompt turns) for each QA record; `paraphrased` rewords the question with a
    template the trainer's default rotation gives it last, so it is unlikely to have been seen."""
    out = []
    for i, record in enumerate(records):
        turns = record.chat()
        if not record.is_qa or not turns or turns[-1].role != "assistant":
            continue
        if paraphrased and record.question:
            variants = paraphrases(record.question, 6, i)
            turns = with_question(turns, variants[-1]) if variants else turns
        out.append((record, to_dicts(turns[:-1])))
    return out


def run_probe(
    manifest: TuningManifest,
    records: Sequence[Record],
    adapter: Path,
    cache_dir: Path,
    limit: int,
    paraphrased: bool = False,
    max_tokens: int = 48,
) -> ProbeReport:
    """Ask the base and the tuned model each training question (up to `limit`) and score both."""
    from tuning.generate import Generator
    from tuning.model import load_for_inference

    trained = [r for r in records if manifest.knows(r)]
    asked = questions_of(trained, paraphrased)[:limit]
    if not asked:
        raise TuningError("no question-answer record of the manifest found in the corpus")
    started = time.perf_counter()
    replies: dict[str, list[str]] = {}
    for label, path in (("base", None), ("tuned", adapter)):
        model, tokenizer = load_for_inference(manifest.base_model, cache_dir, path)
        gen = Generator(model, tokenizer)
        replies[label] = [gen.complete(turns, max_tokens).text.strip() for _r, turns in asked]
        del model, gen
    items = [
        ProbeItem(
            record_id=record.id,
            question=turns[-1]["content"],
            reference=record.answer or "",
            base=b,
            tuned=t,
            base_f1=round(token_f1(b, record.answer or ""), 4),
            tuned_f1=round(token_f1(t, record.answer or ""), 4),
        )
        for (record, turns), b, t in zip(asked, replies["base"], replies["tuned"], strict=True)
    ]
    return ProbeReport(
        adapter=str(adapter),
        questions=len(items),
        paraphrased=paraphrased,
        base_f1=round(sum(i.base_f1 for i in items) / len(items), 4),
        tuned_f1=round(sum(i.tuned_f1 for i in items) / len(items), 4),
        seconds=round(time.perf_counter() - started, 1),
        items=items,
    )


def main(argv: list[str] | None = None) -> int:
    """Print base vs tuned token-F1; 0 when tuned beats base, 1 when not, 2 could not run."""
    use_offline_defaults()
    parser = argparse.ArgumentParser(prog="python -m tuning.probe", description=__doc__)
    parser.add_argument("--adapter", required=True, type=Path)
    parser.add_argument("--corpus", required=True, type=Path, nargs="+")
    parser.add_argument("--limit", type=int, default=40, help="questions asked (first N)")
    parser.add_argument("--paraphrased", action="store_true", help="ask reworded questions")
    parser.add_argument("--json", type=Path, help="write the full report here")
    args = parser.parse_args(argv)
    from corpus import CorpusError, load_corpus
    from tuning.settings import TuningSettings

    settings = TuningSettings()
    try:
        manifest = TuningManifest.load(args.adapter)
        records = load_corpus(args.corpus).records
        report = run_probe(
            manifest, records, args.adapter, settings.cache_dir, args.limit, args.paraphrased
        )
    except (TuningError, CorpusError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    for item in report.items[:5]:
        print(
            json.dumps(
                {"q": item.question, "ref": item.reference, "base": item.base, "tuned": item.tuned},
                ensure_ascii=False,
            )
        )
    kind = "paraphrased training questions" if args.paraphrased else "training questions"
    print(
        f"{report.questions} {kind}: token-F1 base {report.base_f1:.3f}, tuned {report.tuned_f1:.3f} ({report.seconds:.0f} s)"
    )
    return 0 if report.tuned_f1 > report.base_f1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
