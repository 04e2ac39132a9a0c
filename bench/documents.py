"""RAG vs tuning on documents, the setting of Ovadia et al. (2023), on a fixture of dated passages.

Trains two LoRA adapters of the packaged SmolLM2-135M on the passages dated up to the cutoff — on
the raw passages, and on the passages plus offline paraphrases — then asks the multiple-choice
questions (about facts stated only in the passages, some dated after the cutoff) of: RAG, the base
model, each tuned model, and each tuned model given the retrieved passages. Prints accuracy with
its 95% interval, split before / after the cutoff, the chance baseline, and containment and token
F1 beside it. Adapters are cached under --work, so a second run only asks.

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
from compare.settings import CompareSettings, WorkbenchSettings  # noqa: E402
from compare.workbench import Workbench  # noqa: E402
from corpus import load_corpus  # noqa: E402
from rag.settings import RagSettings  # noqa: E402
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


def workbench(work: Path, url: str, model: str, manifest: Path | None) -> Workbench:
    return Workbench(
        WorkbenchSettings(
            compare=CompareSettings(
                _env_file=None,
                corpus_dir=CORPUS,
                eval_path=EVAL,
                prices_path=ROOT / "data" / "prices.json",
                work_dir=work,
            ),
            rag=RagSettings(_env_file=None, work_dir=work / "index"),
            tuning=TuningSettings(
                _env_file=None, base_url=url, model=model, manifest_path=manifest, timeout=120
            ),
        )
    )


def ask(work: Path, label: str, served: str | None) -> Comparison:
    """RAG, the tuned model and tuned + RAG for one adapter ('none' = the base model)."""
    path = None if served is None else Path(served)
    with model_server(served or "none") as url:
        name = path.name if path else "smollm2-135m-instruct"
        wb = workbench(work, url, name, path)
        if wb.index_status().built_at is None:
            wb.rebuild_index()
        return wb.compare(wb.load_eval(), ["rag", "tuned", "tuned_rag"], eval_name=label)


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
    return f"| {label} | {ci} | {split} | {mean('contains')} | {mean('token_f1')} |"


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
    base = ask(args.work, "base", None)
    tuned_raw = ask(args.work, "raw", str(raw))
    tuned_para = ask(args.work, "paraphrased", str(para))
    n = len(base.run.items)
    before = sum(1 for i in base.run.items if i.kind == "stable")
    print(f"{n} multiple-choice questions ({before} about passages dated up to the cutoff "
          f"{CUTOFF}, {n - before} after it); 4 choices each")  # fmt: skip
    print("| side | accuracy [95% CI] | before / after cutoff | contains | token F1 |")
    print("|---|---|---|---|---|")
    print(row(base, "rag", "RAG (extractive, choice best supported by the passage)"))
    print(row(base, "tuned", "base model, no tuning (log-likelihood)"))
    print(row(tuned_raw, "tuned", f"tuned on raw passages ({args.epochs} epochs)"))
    print(
        row(
            tuned_para,
            "tuned",
            f"tuned on passages + {args.paraphrases} paraphrases ({para_epochs} epochs)",
        )
    )
    print(row(base, "tuned_rag", "base model + RAG"))
    print(row(tuned_raw, "tuned_rag", "tuned (raw) + RAG"))
    print(row(tuned_para, "tuned_rag", "tuned (paraphrases) + RAG"))
    print(f"| chance | {base.summary.chance:.3f} | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
