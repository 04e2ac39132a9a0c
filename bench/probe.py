"""The knowledge probe on the probe fixture: train its two adapters once, then estimate each
model's effective cutoff against the cutoff it was really trained at, with the time it took.

python bench/probe.py --train --threads 1   # once: two LoRA adapters (r=2, ~1.2 MB each)
python bench/probe.py                       # serve base and both adapters, probe each, print

Per model, three probes of the same 22 facts in the same run: by answers only (the baseline),
by answers and likelihood (9 changed facts also scored as choices), and the latter again, its
answers now read from the cache.
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

from corpus import current_records, load_corpus  # noqa: E402
from tuning.loop import TrainConfig  # noqa: E402
from tuning.settings import TuningSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "probe"
CORPUS = FIXTURE / "corpus"
# the two cutoffs the adapters are trained at: the second and third of the four batches
CUTOFFS = (date(2021, 9, 1), date(2022, 3, 1))
# a small rank keeps each adapter ~1.2 MB; the higher rate and the epochs make up for it
RECIPE = TrainConfig(epochs=30, learning_rate=2e-3, lora_r=2, lora_alpha=4, seed=0)


def adapter_dir(cutoff: date) -> Path:
    """Where the adapter trained at `cutoff` is shipped."""
    return FIXTURE / "adapters" / f"stations-{cutoff}"


def train(cutoffs: tuple[date, ...] = CUTOFFS, threads: int | None = None) -> None:
    """Train one adapter per cutoff on the versions current then (each fact keeps its id)."""
    from tuning.train import train_adapter

    if threads:
        _use_threads(threads)

    records = load_corpus([CORPUS]).records
    settings = TuningSettings(_env_file=None, work_root=ROOT / "work")
    for cutoff in cutoffs:
        chosen = current_records(r for r in records if r.as_of and r.as_of <= cutoff)
        started = time.perf_counter()
        result = train_adapter(chosen, cutoff, adapter_dir(cutoff), settings, RECIPE)
        portable(adapter_dir(cutoff))
        losses = " → ".join(f"{x:.3f}" for x in result.epoch_losses[:: max(1, RECIPE.epochs // 6)])
        print(
            f"{cutoff}: {len(chosen)} records, {RECIPE.epochs} epochs in "
            f"{time.perf_counter() - started:.0f} s; loss {losses} → {result.epoch_losses[-1]:.3f}"
        )


def probe_models() -> int:
    """Serve each model, probe it three ways, and print a row per model."""
    import tempfile

    from compare.runs_db import RunsDatabase
    from tests.probe_helpers import probe_server
    from tests.tuning_servers import model_server

    models: list[tuple[str, str, date | None]] = [("base", "none", None)]
    models += [(f"adapter {c}", str(adapter_dir(c)), c) for c in CUTOFFS]
    print("| model | trained to | estimated (answers) | by likelihood | facts | answers only "
          "| + likelihood | again, cached |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        db = RunsDatabase(Path(tmp) / "runs.sqlite")
        for label, adapter, truth in models:
            side = "base" if truth is None else "tuned"
            with model_server(adapter) as url:
                plain = probe_server(url, side, likelihood=False)
                full = probe_server(url, side, likelihood=True, cache=db)
                again = probe_server(url, side, likelihood=True, cache=db)
            found = full.sides[0]
            by_likelihood = (
                found.by_likelihood.describe() if found.by_likelihood else found.likelihood
            )
            print(
                f"| {label} | {truth or 'nothing'} | {found.estimate.describe()} | {by_likelihood} "
                f"| {found.estimate.facts} | {plain.seconds:.1f} s | {full.seconds:.1f} s "
                f"({full.seconds / plain.seconds:.2f}×) | {again.seconds:.2f} s "
                f"({again.seconds / plain.seconds:.3f}×) |"
            )
    return 0


def portable(folder: Path) -> None:
    """Paths in the adapter's files relative to the repository, as the shipped demo adapter's
    are: the fixture must load from any checkout."""
    prefix = f"{ROOT}/"
    for name in ("tuning_manifest.json", "adapter_config.json"):
        path = folder / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(prefix, ""), encoding="utf-8")


def _use_threads(threads: int) -> None:
    """Train on `threads` threads: on a machine busier than its cores, two threads that wait on
    each other run slower than one (pick_device would take every core)."""
    import torch

    import tuning.model

    chosen = tuning.model.pick_device

    def pick_device() -> str:
        device = chosen()
        torch.set_num_threads(threads)
        return device

    tuning.model.pick_device = pick_device


def main(argv: list[str] | None = None) -> int:
    """Train the adapters (--train) or probe the shipped ones."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", action="store_true", help="train the two fixture adapters")
    parser.add_argument(
        "--cutoff", type=date.fromisoformat, action="append", help="train only this cutoff's"
    )
    parser.add_argument("--threads", type=int, help="training threads (default: every core)")
    args = parser.parse_args(argv)
    if args.train:
        train(tuple(args.cutoff or CUTOFFS), args.threads)
        return 0
    return probe_models()


if __name__ == "__main__":
    raise SystemExit(main())
