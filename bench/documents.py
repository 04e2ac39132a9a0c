"""RAG vs tuning on documents, the setting of Ovadia et al. (2023), on a fixture of dated passages.

Trains two LoRA adapters of the packaged SmolLM2-135M on the passages dated up to the cutoff — on
the raw passages, and on the passages plus offline paraphrases — then serves both beside the base
model from one `python -m tuning.serve` and runs one comparison through every side of the side
table: extractive RAG, base + RAG, base, tuned (the paraphrase adapter), tuned + RAG, and the
previous tuned model (the raw adapter, as the model a re-tune on paraphrases would replace). The
multiple-choice questions are about facts stated only in the passages, some dated after the
cutoff. Prints accuracy with its 95% interval, split before / after the cutoff, the chance
baseline, containment and token F1 beside it, and the paired gaps the papers report. Adapters are
cached under --work, so a second run only asks.

Usage: python bench/documents.py [--epochs 12] [--paraphrases 2] [--paraphrase-epochs N]
                                 [--work work/bench-documents]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from compare.comparison import Comparison  # noqa: E402
from compare.stats import paired_difference  # noqa: E402
from corpus import load_corpus  # noqa: E402
from tests.conftest import workbench_on  # noqa: E402
from tests.tuning_servers import model_server  # noqa: E402
from tuning.settings import TuningSettings  # noqa: E402
from tuning.train import TrainConfig, train_adapter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "documents"
EVAL = ROOT / "tests" / "data" / "documents_eval.jsonl"
CUTOFF = date(2034, 3, 31)


def adapter(work: Path, name: str, epochs: int, paraphrases: int) -> Path:
    """Train (once) an adapter on the passages dated up to the cutoff."""
    out = work / "adapters" / name
    if (out / "tuning_manifest.json").is_file():
        return out
    settings = TuningSettings(_env_file=None, work_root=work)
    records = load_corpus([CORPUS]).records
    config = TrainConfig(epochs=epochs, doc_paraphrases=paraphrases)
    started = time.perf_counter()
    train_adapter(records, CUTOFF, out, settings, config)
    print(f"trained {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return out


SIDES = ["rag", "base_rag", "base", "tuned", "tuned_rag", "tuned_previous"]
GAPS = [
    ("base_rag", "base", "base + RAG - base"),
    ("tuned", "base", "tuned - base (what tuning added)"),
    ("tuned_rag", "base_rag", "tuned + RAG - base + RAG"),
    ("tuned", "tuned_previous", "paraphrases - raw"),
]


def ask(work: Path, raw: Path, para: Path) -> Comparison:
    """Every side of the table on the documents eval, from one server with both adapters."""
    adapters = [f"{para.name}={para}", "--adapter", f"{raw.name}={raw}"]
    with model_server(adapters[0], extra=adapters[1:]) as url:
        tuning = TuningSettings(
            _env_file=None,
            base_url=url,
            model=para.name,
            manifest_path=para,
            previous_model=raw.name,
            timeout=300,
        )
        wb = workbench_on(work, tuning, CORPUS, EVAL, previous_adapter=raw)
        if wb.index_status().built_at is None:
            wb.rebuild_index()
        return wb.compare(wb.load_eval(), SIDES, eval_name="documents")


def row(c: Comparison, side: str, label: str) -> str:
    def mean(metric: str) -> str:
        q = c.summary.quality_of(side, metric)
        return f"{q.overall.mean:.3f}" if q else "—"

    acc = c.summary.quality_of(side, "accuracy")
    if acc is None:
        return f"| {label} | — |"
    split = " / ".join(
        f"{acc.by_kind[k].mean:.3f}" if k in acc.by_kind else "—" for k in ("stable", "new")
    )
    ci = f"{acc.overall.mean:.3f} [{acc.overall.low:.3f}, {acc.overall.high:.3f}]"
    writer = c.writers.get(side, "—")
    return f"| {label} | {writer} | {ci} | {split} | {mean('contains')} | {mean('token_f1')} |"


def gaps(c: Comparison) -> None:
    """The paired differences in accuracy the papers' matrix is read by."""
    for a, b, label in GAPS:
        x, y = (
            {s.item_id: s.metrics["accuracy"] for s in c.run.for_answerer(side)} for side in (a, b)
        )
        shared = sorted(set(x) & set(y))
        if len(shared) < 2:
            print(f"- {label}: not measured")
            continue
        gap = paired_difference([x[i] for i in shared], [y[i] for i in shared])
        beyond = "beyond noise" if gap.excludes_zero else "within noise"
        print(f"- {label}: {gap.mean:+.3f} [{gap.low:+.3f}, {gap.high:+.3f}], {beyond}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--paraphrases", type=int, default=2)
    parser.add_argument(
        "--paraphrase-epochs",
        type=int,
        default=None,
        help="epochs of the paraphrase run (default: epochs / (1 + paraphrases), so each fact "
        "is seen as often as in the raw run, in more wordings, at the same training cost)",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "work" / "bench-documents")
    args = parser.parse_args()
    raw = adapter(args.work, "documents-raw", args.epochs, 0)
    para_epochs = args.paraphrase_epochs or max(1, round(args.epochs / (1 + args.paraphrases)))
    para = adapter(
        args.work,
        f"documents-paraphrased-{args.paraphrases}x{para_epochs}",
        para_epochs,
        args.paraphrases,
    )
    started = time.perf_counter()
    c = ask(args.work, raw, para)
    n = len(c.run.items)
    before = sum(1 for i in c.run.items if i.kind == "stable")
    print(f"{n} multiple-choice questions ({before} about passages dated up to the cutoff "
          f"{CUTOFF}, {n - before} after it); 4 choices each; asked in "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print("| side | written by | accuracy [95% CI] | before / after cutoff | contains | token F1 |")
    print("|---|---|---|---|---|---|")
    print(row(c, "rag", "RAG (extractive, the choice the passage supports)"))
    print(row(c, "base_rag", "base + RAG"))
    print(row(c, "base", "base model, no tuning"))
    print(
        row(
            c, "tuned", f"tuned on passages + {args.paraphrases} paraphrases ({para_epochs} epochs)"
        )
    )
    print(row(c, "tuned_rag", "tuned (paraphrases) + RAG"))
    print(row(c, "tuned_previous", f"previous: tuned on raw passages ({args.epochs} epochs)"))
    print(f"| chance | | {c.summary.chance:.3f} | | | |")
    gaps(c)
    print(f"verdict: {c.advice.headline}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
