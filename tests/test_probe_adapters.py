"""The probe against real models: the base model and two LoRA adapters trained on the fixture up
to its second and third batches (`python bench/probe.py --train`), each served by
`python -m tuning.serve` on 127.0.0.1. The estimate must fall within one batch of the cutoff each
adapter was trained at, and the base model, which cannot know invented facts, before the corpus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.probe_helpers import BATCHES, FIXTURE, known_at, probe_server
from tests.tuning_servers import model_server
from tuning.manifest import TuningManifest
from tuning.model import base_model_id
from tuning.settings import TuningSettings

ADAPTERS = {day: FIXTURE / "adapters" / f"stations-{day}" for day in BATCHES[1:3]}


@pytest.mark.parametrize("trained", list(ADAPTERS), ids=str)
def test_each_adapter_was_trained_on_the_facts_current_at_its_cutoff(trained: date) -> None:
    manifest = TuningManifest.load(ADAPTERS[trained])
    assert manifest.data_cutoff == trained
    assert len(manifest.records) == len(known_at(trained))  # one record per fact known then
    assert all(r.as_of and r.as_of <= trained for r in manifest.records)
    assert not Path(manifest.adapter_path or "").is_absolute()
    weights = ADAPTERS[trained] / "adapter_model.safetensors"
    assert weights.stat().st_size < 2_000_000, "a small LoRA rank keeps the fixture small"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """One server for the module: both adapters, named by their cutoffs, beside the base model
    (each adapter switched off per request for the base)."""
    for folder in ADAPTERS.values():
        assert (folder / "adapter_config.json").is_file(), "run bench/probe.py --train"
    specs = [f"{day}={folder}" for day, folder in ADAPTERS.items()]
    with model_server(specs[0], extra=["--adapter", specs[1]]) as url:
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("trained", list(ADAPTERS), ids=str)
def test_an_adapter_is_placed_within_one_batch_of_its_cutoff(served: str, trained: date) -> None:
    result = probe_server(served, "tuned", model=str(trained))
    found = result.sides[0]
    estimate = found.estimate
    print(f"\ntrained {trained}: {estimate.describe()}; {result.seconds:.0f} s")
    if found.by_likelihood is not None:
        print(f"  by likelihood: {found.by_likelihood.describe()}")
    assert estimate.status == "estimated", estimate.describe()
    assert estimate.day is not None
    assert abs(BATCHES.index(estimate.day) - BATCHES.index(trained)) <= 1


@pytest.mark.slow
def test_the_base_model_comes_out_before_the_corpus(served: str) -> None:
    # the fixture's answers are 8 tokens at most, and the base model, which knows none of them,
    # rambles to whatever limit it is given: 16 tokens hold any answer it could state
    base = base_model_id(TuningSettings(_env_file=None))
    result = probe_server(served, "base", max_tokens=16, model=base)
    found = result.sides[0]
    print(f"\nbase: {found.estimate.describe()}; {result.seconds:.0f} s")
    assert found.estimate.status == "before_corpus", found.estimate.describe()
    assert found.by_likelihood is None or not found.by_likelihood.usable
