"""Errors of the tuned side; the CLIs turn them into messages and exit codes."""

from __future__ import annotations


class TuningError(Exception):
    """Something in tuning could not be done; the message says what and how to fix it."""


class NoTrainingData(TuningError):
    """No record dated on/before the cutoff could be trained on."""


class EndpointError(TuningError):
    """A chat endpoint failed in a way the caller should report as an answer error."""
