"""Process-wide defaults that keep every library offline and quiet; called at the edges (CLIs, app)."""

from __future__ import annotations

import os

OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def use_offline_defaults() -> None:
    """Set the offline/no-telemetry variables unless the user set them (call before heavy imports)."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
