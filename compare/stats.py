"""Confidence intervals, so a team can tell a real gap from noise."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

DEFAULT_RESAMPLES = 2000


class Interval(BaseModel):
    """A mean with its bootstrap 95% confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def bootstrap_mean(
    values: Sequence[float], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> Interval:
    """Mean of `values` with a percentile bootstrap 95% CI (reproducible for a given seed)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return Interval(mean=0.0, low=0.0, high=0.0, n=0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.size, size=(resamples, data.size))
    means = data[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(mean=float(data.mean()), low=float(low), high=float(high), n=int(data.size))


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> Interval:
    """Mean of a - b over the same questions, with a paired bootstrap 95% CI.

    Resampling questions (not answers) keeps each pair together, so question difficulty cancels.
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return bootstrap_mean(diffs.tolist(), resamples=resamples, seed=seed)
