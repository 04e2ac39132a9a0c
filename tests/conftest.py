"""Shared test set-up: offline, quiet libraries, and paths to the shipped data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from corpus.offline import use_offline_defaults

use_offline_defaults()

if TYPE_CHECKING:  # imported where used: most tests need neither
    from compare.workbench import Workbench
    from tuning.settings import TuningSettings

ROOT = Path(__file__).resolve().parent.parent
FORMATS_DIR = ROOT / "tests" / "data" / "formats"
BAD_DIR = ROOT / "data" / "bad"
DEMO_CORPUS = ROOT / "data" / "corpus"
DEMO_EVAL = ROOT / "data" / "eval" / "demo_eval.jsonl"


@pytest.fixture
def root() -> Path:
    """The repository root."""
    return ROOT


def workbench_on(
    work: Path,
    tuning: TuningSettings,
    corpus: Path = DEMO_CORPUS,
    eval_path: Path = DEMO_EVAL,
    **compare: Any,
) -> Workbench:
    """A workbench on a corpus and eval set (the demo's unless named) with a private work folder
    and the given tuned side's settings; no .env is read. `compare` overrides `CompareSettings`
    fields. Tests and benches alike build theirs here."""
    from compare.settings import CompareSettings, WorkbenchSettings
    from compare.workbench import Workbench as Bench
    from rag.settings import RagSettings

    return Bench(
        WorkbenchSettings(
            compare=CompareSettings(
                _env_file=None,
                corpus_dir=corpus,
                eval_path=eval_path,
                prices_path=ROOT / "data" / "prices.json",
                work_dir=work,
                **compare,
            ),
            rag=RagSettings(_env_file=None, work_dir=work / "index"),
            tuning=tuning,
        )
    )
