"""Tuned + RAG with a RAFT adapter vs a plain adapter vs base + RAG (and extractive RAG), at equal
training exposure, handed k = 0, 2 and 4 distractors at answer time.

Two LoRA adapters of the packaged SmolLM2-135M are trained on the same RAFT split of the demo
corpus (`rag.raft`, every fact the demo eval asks about held out): one with the retrieved passages
in the prompt and replies that quote the passage (the raft recipe), one on the same questions and
answers without passages (plain), for the same epochs, batch and steps. Then each side is asked
through `Workbench.compare` with k + 1 retrieved passages (RAGORTUNE_PASSAGES): on the demo eval's
questions in the split's language (free text; token F1 on the stated answer) and on the documents
fixture (multiple choice by log-likelihood), which neither adapter saw. Prints each side's mean
with its 95% interval and the paired gaps RAFT - plain and RAFT - base. Adapters and answers are
cached under --work (fixed ports keep the answer cache valid), so a second run only prints.

Usage: python bench/raft.py [--work work/bench-raft] [--lang en] [--limit 64] [--train-k 2]
           [--p 0.8] [--epochs 3] [--batch-size 4] [--ks 0,2,4] [--max-tokens 80]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.offline import use_offline_defaults

use_offline_defaults()

from compare.comparison import Comparison  # noqa: E402
from compare.evalset import EvalItem, load_eval  # noqa: E402
from compare.stats import Interval, paired_difference  # noqa: E402
from compare.workbench import Workbench  # noqa: E402
from corpus import current_records, load_corpus  # noqa: E402
from rag.build import rebuild_index  # noqa: E402
from rag.index import RagIndex  # noqa: E402
from rag.lexical import CYRILLIC  # noqa: E402
from rag.raft import RaftSettings, build_raft, describe  # noqa: E402
from rag.raft_files import write_raft  # noqa: E402
from rag.raft_items import read_asked  # noqa: E402
from rag.settings import RagSettings  # noqa: E402
from tests.conftest import workbench_on  # noqa: E402
from tests.tuning_servers import model_server  # noqa: E402
from tuning.data import read_raft  # noqa: E402
from tuning.loop import TrainConfig  # noqa: E402
from tuning.settings import TuningSettings  # noqa: E402
from tuning.train import RAFT_MAX_LEN, train_adapter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "corpus"
DEMO_EVAL = ROOT / "data" / "eval" / "demo_eval.jsonl"
DOCS = ROOT / "tests" / "data" / "documents"
DOCS_EVAL = ROOT / "tests" / "data" / "documents_eval.jsonl"
BASE_NAME = "smollm2-135m-instruct"
PORTS = {"base": 18731, "plain": 18732, "raft": 18733}  # fixed: the answer cache keys on the URL
SERVE = ["--queue-wait-s", "1800", "--queue-max", "8"]  # a busy machine: wait, do not refuse


def lang_of(text: str) -> str:
    return "ru" if CYRILLIC.search(text.lower()) else "en"


def log(what: str, started: float) -> None:
    print(f"{what} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)


def open_index(corpus: Path, work: Path) -> RagIndex:
    settings = RagSettings(_env_file=None, work_dir=work / "index")
    if not (settings.work_dir / "manifest.json").is_file():
        rebuild_index(load_corpus([corpus]).records, settings)
    return RagIndex.open(settings)


def demo_split(args: argparse.Namespace) -> Path:
    """The RAFT split of the demo's records in one language, the demo eval's facts held out."""
    out = args.work / "split"
    if (out / "raft.json").is_file():
        return out
    started = time.perf_counter()
    records = [
        r
        for r in current_records(load_corpus([DEMO]).records)
        if lang_of(r.prompt_text()) == args.lang
    ]
    settings = RaftSettings(p=args.p, k=args.train_k, seed=args.seed, limit=args.limit)
    index = open_index(DEMO, args.work / "demo")
    split = build_raft(records, index, settings, held_out=read_asked(DEMO_EVAL))
    write_raft(split, out, ["openai"])
    log(f"split: {describe(split)}", started)
    return out


def adapter(args: argparse.Namespace, split: Path, recipe: str) -> Path:
    """Train (once) the adapter of one recipe on the split: raft, or plain without passages."""
    out = args.work / "adapters" / f"demo-{recipe}"
    if (out / "tuning_manifest.json").is_file():
        return out
    started = time.perf_counter()
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, max_len=RAFT_MAX_LEN, seed=args.seed
    )
    records = load_corpus([DEMO]).records
    settings = TuningSettings(_env_file=None, work_root=args.work)
    result = train_adapter(
        current_records(records), date(2026, 12, 31), out, settings, config,
        raft=read_raft(split), passages=recipe == "raft",
    )  # fmt: skip
    m = result.manifest
    losses = " → ".join(f"{x:.3f}" for x in result.epoch_losses)
    log(
        f"trained {recipe}: {m.examples} examples, {m.training_tokens} tokens, loss {losses}",
        started,
    )
    return out


def demo_items(args: argparse.Namespace) -> tuple[Path, list[EvalItem]]:
    """The demo eval's questions about a record, in the split's language."""
    items = [i for i in load_eval(DEMO_EVAL) if i.record_id and (i.lang or "en") == args.lang]
    path = args.work / f"demo_eval_{args.lang}.jsonl"
    path.write_text("".join(i.model_dump_json() + "\n" for i in items), encoding="utf-8")
    return path, items


def workbench(
    args: argparse.Namespace, corpus: Path, eval_path: Path, folder: str, k: int, tuned: Path
) -> Workbench:
    work = args.work / folder
    tuning = TuningSettings(
        _env_file=None, base_url=f"http://127.0.0.1:{PORTS[tuned.name.split('-')[-1]]}/v1",
        model=tuned.name, manifest_path=tuned, base_endpoint=f"http://127.0.0.1:{PORTS['base']}/v1",
        base_endpoint_model=BASE_NAME, max_tokens=args.max_tokens, timeout=1800,
        retry_budget_s=3600, max_retries=1,
    )  # fmt: skip
    return workbench_on(work, tuning, corpus, eval_path, passages=k + 1, concurrency=2)


def ask_all(
    args: argparse.Namespace, corpus: Path, eval_path: Path, folder: str, adapters: list[Path]
) -> dict[tuple[int, str], Comparison]:
    """Every k, every adapter: RAG, base + RAG and tuned + RAG (cached answers are reused)."""
    open_index(corpus, args.work / folder)
    items = load_eval(eval_path)
    runs = {}
    for k in args.ks:
        for tuned in adapters:
            started = time.perf_counter()
            wb = workbench(args, corpus, eval_path, folder, k, tuned)
            runs[(k, tuned.name)] = wb.compare(
                items, ["rag", "base_rag", "tuned_rag"], eval_name=f"{folder}-k{k}-{tuned.name}"
            )
            log(f"{folder}: k={k} with {tuned.name}", started)
    return runs


def scores(c: Comparison, side: str, metric: str) -> dict[str, float]:
    """Each question's score (questions the metric does not apply to are left out)."""
    return {s.item_id: s.metrics[metric] for s in c.run.for_answerer(side) if metric in s.metrics}


def cell(values: list[float]) -> str:
    from compare.stats import bootstrap_mean

    ci = bootstrap_mean(values)
    return f"{ci.mean:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def gap(a: list[float], b: list[float]) -> str:
    d: Interval = paired_difference(a, b)
    mark = " ✓" if d.excludes_zero else ""
    return f"{d}{mark}"


def table(title: str, runs: dict[tuple[int, str], Comparison], ks: list[int], metric: str) -> None:
    """One row per side, one column per k; then the paired gaps."""
    print(f"\n{title} — {metric}, mean [95% CI]; k = distractors handed (k + 1 passages)")
    print("| side | " + " | ".join(f"k = {k}" for k in ks) + " |")
    print("|---|" + "---|" * len(ks))
    rows = {
        "RAG (extractive)": ("demo-plain", "rag"),
        "base + RAG": ("demo-plain", "base_rag"),
        "plain tuned + RAG": ("demo-plain", "tuned_rag"),
        "RAFT tuned + RAG": ("demo-raft", "tuned_rag"),
    }
    got: dict[str, list[list[float]]] = {label: [] for label in rows}
    for k in ks:
        per_side = {label: scores(runs[(k, a)], side, metric) for label, (a, side) in rows.items()}
        shared = sorted(set.intersection(*(set(v) for v in per_side.values())))
        for label, values in per_side.items():
            got[label].append([values[i] for i in shared])
    for label, per_k in got.items():
        print(f"| {label} | " + " | ".join(cell(v) for v in per_k) + " |")
    shown = [list(scores(runs[(k, "demo-plain")], "rag", "hit@1").values()) for k in ks]
    print(
        "| retrieval hit@1 (the answer's passage first) | "
        + " | ".join(cell(v) for v in shown)
        + " |"
    )
    for label, other in (
        ("RAFT − plain", "plain tuned + RAG"),
        ("RAFT − base + RAG", "base + RAG"),
    ):
        pairs = [gap(a, b) for a, b in zip(got["RAFT tuned + RAG"], got[other], strict=True)]
        print(f"| {label} (paired) | " + " | ".join(pairs) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "work" / "bench-raft")
    parser.add_argument("--lang", choices=("en", "ru"), default="en")
    parser.add_argument("--limit", type=int, default=64, help="examples in the split")
    parser.add_argument("--train-k", type=int, default=2, help="distractors in training examples")
    parser.add_argument("--p", type=float, default=0.8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ks", default="0,2,4", help="distractors handed at answer time")
    parser.add_argument("--max-tokens", type=int, default=80)
    args = parser.parse_args()
    args.ks = [int(k) for k in args.ks.split(",")]
    started = time.perf_counter()
    split = demo_split(args)
    adapters = [adapter(args, split, "plain"), adapter(args, split, "raft")]
    eval_path, items = demo_items(args)
    with (
        model_server("none", extra=["--port", str(PORTS["base"]), *SERVE]),
        model_server(str(adapters[0]), extra=["--port", str(PORTS["plain"]), *SERVE]),
        model_server(str(adapters[1]), extra=["--port", str(PORTS["raft"]), *SERVE]),
    ):
        demo = ask_all(args, DEMO, eval_path, "demo", adapters)
        docs = ask_all(args, DOCS, DOCS_EVAL, "documents", adapters)
    manifests = [json.loads((a / "tuning_manifest.json").read_text()) for a in adapters]
    print(f"split: {split}; adapters: " + "; ".join(
        f"{m['recipe']}: {m['examples']} examples × {m['epochs']} epochs, {m['training_tokens']:,} "
        f"tokens in {m['wall_time_s']:.0f} s, loss {m['final_loss']}" for m in manifests
    ))  # fmt: skip
    table(f"demo eval, {len(items)} questions in {args.lang!r}", demo, args.ks, "token_f1")
    table(f"demo eval, {len(items)} questions in {args.lang!r}", demo, args.ks, "numbers")
    table("documents fixture, 23 multiple-choice questions", docs, args.ks, "accuracy")
    log("done", started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
