"""Shared test set-up: offline, quiet libraries, and paths to the shipped data."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.offline import use_offline_defaults

use_offline_defaults()

ROOT = Path(__file__).resolve().parent.parent
FORMATS_DIR = ROOT / "tests" / "data" / "formats"
BAD_DIR = ROOT / "data" / "bad"
DEMO_CORPUS = ROOT / "data" / "corpus"
DEMO_EVAL = ROOT / "data" / "eval" / "demo_eval.jsonl"


@pytest.fixture
def root() -> Path:
    """The repository root."""
    return ROOT
