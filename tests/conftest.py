"""Shared test set-up: offline, quiet libraries, and paths to the shipped data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from corpus.offline import use_offline_defaults

use_offline_defaults()
if os.environ.get("PYTEST_XDIST_WORKER"):
    # workers share the cores: torch's threads that wait on each other across two busy processes
    # made the tests' training 4-5x slower than in one process, one thread each 1.1-1.3x (see
    # `tuning.model.pick_device`). The servers the tests start inherit it; the tests of the
    # thread logic set the variable themselves.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

if TYPE_CHECKING:  # imported where used: most tests need neither
    from compare.workbench import Workbench
    from tuning.settings import TuningSettings

ROOT = Path(__file__).resolve().parent.parent
FORMATS_DIR = ROOT / "tests" / "data" / "formats"
BAD_DIR = ROOT / "data" / "bad"
DEMO_CORPUS = ROOT / "data" / "corpus"
DEMO_EVAL = ROOT / "data" / "eval" / "demo_eval.jsonl"
DEMO_ADAPTER = ROOT / "data" / "adapters" / "smollm2-demo-2026-03"


@pytest.fixture
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(params=["embedded", "server"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """The chroma URL of a test that runs against both stores: None for the embedded one, then a
    chroma server's (started on 127.0.0.1 for the test)."""
    if request.param == "embedded":
        yield None
        return
    from bench.servers import chroma_server

    (tmp_path / "server").mkdir()
    with chroma_server(tmp_path / "server") as url:
        yield url


@pytest.fixture(scope="session")
def demo_server() -> Iterator[str]:
    """The shipped adapter and the base model behind `python -m tuning.serve`, served as `make
    demo` serves them (int8 weights), shared by the tests that only ask it: one model load."""
    from tests.tuning_servers import model_server

    assert (DEMO_ADAPTER / "tuning_manifest.json").is_file(), f"the adapter ships in {DEMO_ADAPTER}"
    with model_server(str(DEMO_ADAPTER), {"TUNING_SERVE_WEIGHTS": "int8"}) as url:
        yield url


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
