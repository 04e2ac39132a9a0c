"""The tuned side: endpoint client, what a tuned model knows, local LoRA tuning, serving, jobs."""

from tuning.client import ChatClient, TunedAnswerer
from tuning.errors import EndpointError, NoTrainingData, TuningError
from tuning.manifest import MANIFEST_NAME, TrainedRecord, TuningManifest
from tuning.settings import PACKAGED_BASE, ServeSettings, TuningSettings

__all__ = [
    "MANIFEST_NAME",
    "PACKAGED_BASE",
    "ChatClient",
    "EndpointError",
    "NoTrainingData",
    "ServeSettings",
    "TrainedRecord",
    "TunedAnswerer",
    "TuningError",
    "TuningManifest",
    "TuningSettings",
]
