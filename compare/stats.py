"""Confidence intervals, so a team can tell a real gap from noise."""

from __future__ import annotations

import math
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
    sd: float = 0.0  # standard deviation of the values (of the paired differences, for a gap)

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
    sd = float(data.std(ddof=1)) if data.size > 1 else 0.0
    return Interval(
        mean=float(data.mean()), low=float(low), high=float(high), n=int(data.size), sd=sd
    )


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


Z_975 = 1.959964  # two-sided 95%
Z_80 = 0.841621  # 80% power


def questions_needed(sd: float, smallest: float) -> int:
    """Paired questions needed to detect a mean difference of `smallest` at 95% confidence and
    80% power, given the standard deviation of the paired differences (normal approximation).

    >>> questions_needed(0.3, 0.05)  # ((1.96 + 0.84) * 0.3 / 0.05) ** 2 = 282.6
    283
    """
    if smallest <= 0:
        raise ValueError("the smallest difference that matters must be positive")
    return math.ceil(((Z_975 + Z_80) * sd / smallest) ** 2)
