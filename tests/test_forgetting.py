"""The forgetting check end to end on the local server: the current adapter and a re-tune that
forgot it, both served by one `python -m tuning.serve` beside the base model, asked the questions
the current model knew; the verdict is "do not ship"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from compare.evalset import load_eval
from compare.side_table import side_for
from corpus import current_records, load_corpus
from tests.conftest import DEMO_ADAPTER, DEMO_CORPUS, DEMO_EVAL, ROOT, workbench_on
from tests.tuning_servers import model_server
from tuning.manifest import TuningManifest
from tuning.settings import TuningSettings
from tuning.train import TrainConfig, train_adapter

pytestmark = pytest.mark.slow

CURRENT = DEMO_ADAPTER
PREVIOUS = side_for("previous", retrieves=False)


@pytest.fixture(scope="module")
def retuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A re-tune on the July batch alone, a few steps: it never learned the March facts the
    current adapter knows — the re-tune a team must not ship."""
    work = tmp_path_factory.mktemp("retune")
    july = [
        r
        for r in current_records(load_corpus([DEMO_CORPUS]).records)
        if r.batch and r.batch.startswith("2026-07-01")
    ]
    out = work / "adapters" / "retuned-2026-07"
    config = TrainConfig(epochs=1, max_steps=6, max_len=128)
    # the dequantised base weights are cached where every test that loads the model finds them
    settings = TuningSettings(_env_file=None, work_dir=ROOT / "work")
    train_adapter(july, date(2026, 7, 31), out, settings, config, progress=False)
    return out


@pytest.fixture(scope="module")
def served(retuned: Path) -> Iterator[str]:
    """One server: the re-tuned adapter, the current one and the base model."""
    # int8 weights, as `make demo` serves them: the current adapter answers its training
    # questions word for word as in fp32 (bench/weights.py), at 1.45-1.6x the tokens/s
    int8 = {"TUNING_SERVE_WEIGHTS": "int8"}
    with model_server(f"retuned={retuned}", int8, ["--adapter", f"current={CURRENT}"]) as url:
        yield url


def test_a_retune_that_forgot_what_the_current_model_knew_is_not_shipped(
    served: str, retuned: Path, tmp_path: Path
) -> None:
    tuning = TuningSettings(
        _env_file=None,
        base_url=served,
        model="retuned",
        manifest_path=retuned,
        previous_model="current",
        max_retries=0,
        timeout=120,
    )
    wb = workbench_on(tmp_path, tuning, previous_adapter=CURRENT)
    assert PREVIOUS in wb.answerer_names, "a configured previous model is a side"
    known = TuningManifest.load(CURRENT).known_hashes()
    by_id = {r.id: r for r in wb.records()}
    items = [
        i
        for i in load_eval(DEMO_EVAL)
        if i.record_id in by_id and by_id[i.record_id].content_hash in known
    ][:16]  # the current model answers them near word for word, the re-tune does not: a wide gap
    assert len(items) == 16, "enough questions about what the current model knew"
    run = wb.compare(items, ["tuned", PREVIOUS])
    for side in run.summary.sides:
        assert side.errors == 0, side.first_error
    forgetting = run.advice.inputs.forgetting
    assert forgetting is not None and forgetting.n == len(items)
    assert forgetting.mean < -run.advice.settings.max_forgetting
    assert run.advice.verdict == "do_not_ship"
    assert run.writers[PREVIOUS].startswith("current at ")
