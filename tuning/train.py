"""LoRA fine-tuning of the base model on the corpus records dated up to a cutoff.

python -m tuning.train --corpus data/corpus --until 2026-03-31 --out data/adapters/demo
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from answers import ChatModel
from answers.prices import PriceBook, hourly
from corpus.offline import use_offline_defaults
from corpus.record import Record
from tuning.data import (
    RaftData,
    build_examples,
    offline_document_variants,
    raft_examples,
    read_raft,
    select_records,
)
from tuning.errors import NoTrainingData, TuningError
from tuning.loop import TrainConfig, pick_batch_size, run_epochs
from tuning.manifest import Recipe, TrainedRecord, TuningManifest
from tuning.rewrite import rewrite_passages
from tuning.settings import TuningSettings

OFFLINE_METHOD = "offline: sentence reordering, statement frames, two-sentence splits"
REWRITE_MAX_TOKENS = 1024  # a rewrite is about as long as its passage
RAFT_MAX_LEN = 1024  # tokens per RAFT example by default: k + 1 passages precede the question
PRICE_BOOK = Path("data/prices.json")  # compare's price book: the one machine-hour price
# q/k/v/o plus the MLP: the set that taught SmolLM2-135M 40 facts in 12 epochs in our probe
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainResult(BaseModel):
    """The manifest written next to the adapter, and the mean loss of each epoch."""

    manifest: TuningManifest
    epoch_losses: list[float]


def hardware() -> str:
    """A short description of what the run used."""
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    return f"CPU {platform.machine()} × {torch.get_num_threads()} threads"


def train_adapter(
    records: Sequence[Record],
    until: date,
    out: Path,
    settings: TuningSettings,
    config: TrainConfig,
    progress: bool = True,
    machine_hour_usd: float | None = None,
    rewriter: ChatModel | None = None,
    raft: RaftData | None = None,
    passages: bool = True,
) -> TrainResult:
    """Train a LoRA adapter on the records dated on/before `until`; write it and its manifest.

    The manifest records seconds and hardware; it holds a cost only when `machine_hour_usd` (the
    price book's rate, passed by the caller) is given. With `config.doc_paraphrases`, plain-text
    passages get that many variants: rewrites by `rewriter` when given, else offline ones. With
    `raft`, the examples are that split's, of its records dated on/before `until`: with their
    retrieved passages (the raft recipe), or, `passages` off, without them (plain, at equal
    exposure).
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from tuning.model import load_base, pick_device

    if raft is not None:
        records = [r for r in records if r.id in raft.record_ids]
    chosen = select_records(records, until)
    if not chosen:
        raise NoTrainingData(f"no record dated on/before {until} — check --until and --corpus")
    started = time.perf_counter()
    device = pick_device()
    torch.manual_seed(config.seed)
    base, tokenizer = load_base(settings.base_model, settings.cache_dir, device)
    variants, method = document_paraphrases(chosen, config.doc_paraphrases, rewriter)
    recipe, recipe_settings = recipe_of(config, raft, passages)
    if raft is None:
        examples = build_examples(tokenizer, chosen, config.max_len, config.paraphrases, variants)
    else:
        keep = {r.id for r in chosen}
        examples, too_long = raft_examples(tokenizer, raft, keep, config.max_len, passages)
        recipe_settings["over_max_len"] = too_long
        if not examples:
            raise NoTrainingData(
                f"{raft.path}: no example of a record dated on/before {until} fits "
                f"--max-len {config.max_len} — raise --max-len or --until"
            )
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=list(TARGET_MODULES),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, lora)
    batch = pick_batch_size(device, base, config.max_len, config.batch_size)
    config = config.model_copy(update={"batch_size": batch})
    train_started = time.perf_counter()
    losses, tokens = run_epochs(model, examples, tokenizer.pad_token_id, device, config, progress)
    train_s = time.perf_counter() - train_started
    save_adapter(model, out)
    wall = time.perf_counter() - started
    manifest = TuningManifest(
        base_model=settings.base_model,
        adapter_path=str(out),
        trained_at=datetime.now(UTC),
        data_cutoff=until,
        records=[
            TrainedRecord(id=r.id, content_hash=r.content_hash, as_of=r.as_of) for r in chosen
        ],
        examples=len(examples),
        paraphrases=config.paraphrases,
        doc_paraphrases=config.doc_paraphrases,
        doc_paraphrase_method=method,
        recipe=recipe,
        recipe_settings=recipe_settings,
        epochs=config.epochs,
        training_tokens=tokens,
        tokens_per_s=round(tokens / train_s, 1) if train_s else 0.0,
        wall_time_s=round(wall, 1),
        hardware=hardware(),
        machine_hour_usd=machine_hour_usd,
        cost_usd=round(hourly(wall, machine_hour_usd), 6) if machine_hour_usd is not None else 0.0,
        final_loss=round(losses[-1], 4) if losses else None,
        hyperparameters=_hyperparameters(config),
    )
    manifest.save(out)
    return TrainResult(manifest=manifest, epoch_losses=losses)


def recipe_of(
    config: TrainConfig, raft: RaftData | None, passages: bool
) -> tuple[Recipe, dict[str, float | int | str]]:
    """The recipe a run follows, and its settings for the manifest."""
    if raft is None:
        return ("paraphrases" if config.paraphrases or config.doc_paraphrases else "plain"), {}
    split: dict[str, float | int | str] = {"split": str(raft.path)}
    if not passages:
        return "plain", split
    return "raft", {**raft.settings, **split}


def document_paraphrases(
    records: Sequence[Record], count: int, rewriter: ChatModel | None
) -> tuple[dict[str, list[str]], str | None]:
    """(variants by record id, how they were made) for the plain-text records."""
    if not count:
        return {}, None
    if rewriter is not None:
        name = getattr(rewriter, "model", type(rewriter).__name__)
        return rewrite_passages(records, count, rewriter), f"endpoint rewrites ({name})"
    return offline_document_variants(records, count), OFFLINE_METHOD


def save_adapter(model: Any, out: Path) -> None:
    """Save only the LoRA weights, in fp16: half the size (r=16 on every projection is ~10 MB)
    and no measurable change once loaded back into the fp32 base."""
    import torch

    lora = {
        k: v.detach().to(torch.float16) if v.is_floating_point() else v
        for k, v in model.state_dict().items()
        if "lora_" in k
    }
    model.save_pretrained(str(out), state_dict=lora)
    card = out / "README.md"  # peft's blank model card; the manifest says what matters
    if card.is_file() and "More Information Needed" in card.read_text(encoding="utf-8"):
        card.unlink()


def _hyperparameters(config: TrainConfig) -> dict[str, float | int | str]:
    values = config.model_dump(exclude={"epochs", "paraphrases", "doc_paraphrases", "max_steps"})
    values["target_modules"] = ",".join(TARGET_MODULES)
    return values


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tuning.train", description=__doc__)
    parser.add_argument("--corpus", required=True, type=Path, nargs="+", help="JSONL files or dirs")
    parser.add_argument("--until", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument(
        "--out", type=Path, help="adapter dir (default: <adapters dir>/<base model>-<until>)"
    )
    parser.add_argument(
        "--paraphrases",
        type=int,
        nargs="?",
        const=2,
        default=0,
        help="add N template rephrasings of each question (default 2 when given)",
    )
    parser.add_argument(
        "--doc-paraphrases",
        type=int,
        default=0,
        metavar="N",
        help="N variants of each plain-text passage: rewrites by TUNING_PARAPHRASE_MODEL at "
        "TUNING_BASE_URL when that is set, else offline (reordered, framed, split)",
    )
    parser.add_argument(
        "--raft",
        type=Path,
        metavar="DIR",
        help="train on a RAFT split (the folder python -m rag.raft wrote, or its raft.json): "
        "its questions with retrieved passages and replies that quote them",
    )
    parser.add_argument(
        "--recipe",
        choices=("raft", "plain"),
        default="raft",
        help="with --raft: raft (default), or plain: the split's questions and answers without "
        "passages, for a plain adapter at equal exposure",
    )
    parser.add_argument(
        "--max-len",
        type=int,
        help=f"tokens per example (default 256; {RAFT_MAX_LEN} with --raft, whose longer "
        "examples are left out whole, never cut)",
    )
    parser.add_argument("--batch-size", type=int, help="default 8 on CPU, chosen for a GPU")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument(
        "--machine-hour-usd",
        type=float,
        help=f"price of an hour of this machine, for the manifest's cost (default: the "
        f"price book's machine_hour_usd, {PRICE_BOOK})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def book_machine_hour_usd(path: Path) -> float | None:
    """The price book's `machine_hour_usd` (None when the book cannot be read)."""
    try:
        return PriceBook.load(path).machine_hour_usd
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    """Train from the command line; 0 ok, 2 could not run."""
    use_offline_defaults()
    args = _parse(argv)
    settings = TuningSettings()
    from corpus import CorpusError, current_records, load_corpus

    try:
        report = load_corpus(args.corpus)
    except CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if report.rejects:
        print(
            f"note: {len(report.rejects)} corpus lines rejected (python -m corpus validate)",
            file=sys.stderr,
        )
    records = current_records(r for r in report.records if r.as_of is None or r.as_of <= args.until)
    out = args.out or settings.adapters_dir / f"{settings.base_model.lower()}-{args.until}"
    config = TrainConfig(
        epochs=args.epochs,
        paraphrases=args.paraphrases,
        doc_paraphrases=args.doc_paraphrases,
        max_len=args.max_len or (RAFT_MAX_LEN if args.raft else 256),
        batch_size=args.batch_size,
        learning_rate=args.lr,
        max_steps=args.max_steps,
    )
    try:
        rate = args.machine_hour_usd
        rate = book_machine_hour_usd(PRICE_BOOK) if rate is None else rate
        rewriter = None
        if args.doc_paraphrases and settings.paraphrase_model:
            from tuning.client import ChatClient

            long_replies = settings.model_copy(update={"max_tokens": REWRITE_MAX_TOKENS})
            rewriter = ChatClient(long_replies, model=settings.paraphrase_model)
        raft = read_raft(args.raft) if args.raft else None
        result = train_adapter(
            records,
            args.until,
            out,
            settings,
            config,
            not args.quiet,
            rate,
            rewriter,
            raft=raft,
            passages=args.recipe == "raft",
        )
    except TuningError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    m = result.manifest
    losses = " → ".join(f"{x:.3f}" for x in result.epoch_losses)
    print(
        f"trained on {len(m.records)} records ({m.examples} examples), {m.epochs} epochs; "
        f"recipe {m.recipe_text()}"
    )
    print(f"loss per epoch: {losses}")
    print(
        f"{m.training_tokens} tokens in {m.wall_time_s:.0f} s: {m.tokens_per_s:.0f} training tokens/s on {m.hardware}"
    )
    print(f"adapter and manifest written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
