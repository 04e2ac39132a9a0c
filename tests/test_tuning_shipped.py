"""The adapter the demo ships: it was trained on the March batch and measurably knows it."""

from __future__ import annotations

from datetime import date

import pytest

from corpus import load_corpus
from tests.conftest import DEMO_ADAPTER, DEMO_CORPUS, ROOT
from tuning.manifest import TuningManifest
from tuning.probe import run_probe
from tuning.settings import TuningSettings

ADAPTER = DEMO_ADAPTER
QUESTIONS = 6
# the training answers are short: 32 tokens hold each, and the base model's long replies stop there
MAX_TOKENS = 32


def test_manifest_lists_exactly_the_march_records() -> None:
    manifest = TuningManifest.load(ADAPTER)
    records = load_corpus([DEMO_CORPUS]).records
    march = {r.content_hash for r in records if r.batch == "2026-03-01"}
    assert manifest.data_cutoff == date(2026, 3, 31)
    assert manifest.known_hashes() <= march, "nothing newer than the cutoff was trained on"
    assert len(manifest.records) > 0.9 * len(march)
    assert manifest.training_tokens > 0 and manifest.tokens_per_s > 0 and manifest.epochs > 0
    weights = list(ADAPTER.glob("adapter_model.*"))
    assert weights and sum(w.stat().st_size for w in weights) < 20_000_000, "a few MB"


@pytest.mark.slow
def test_tuned_model_knows_its_training_answers_better_than_the_base() -> None:
    manifest = TuningManifest.load(ADAPTER)
    records = load_corpus([DEMO_CORPUS]).records
    settings = TuningSettings(_env_file=None, work_dir=ROOT / "work")
    report = run_probe(
        manifest, records, ADAPTER, settings.cache_dir, QUESTIONS, max_tokens=MAX_TOKENS
    )
    print(
        f"\ntoken F1 on {report.questions} training questions: base {report.base_f1:.3f}, "
        f"tuned {report.tuned_f1:.3f}"
    )
    assert report.questions == QUESTIONS
    assert report.tuned_f1 >= report.base_f1 + 0.2
