"""Bootstrap intervals and paired differences (compare.stats) checked by hand."""

from __future__ import annotations

import pytest

from compare.stats import bootstrap_mean, paired_difference


def test_bootstrap_is_reproducible_and_brackets_the_mean() -> None:
    values = [0.0, 1.0, 1.0, 0.5, 0.25, 0.75, 1.0, 0.0]
    a, b = bootstrap_mean(values, seed=3), bootstrap_mean(values, seed=3)
    assert a == b
    assert a.mean == pytest.approx(0.5625) and a.low <= a.mean <= a.high
    constant = bootstrap_mean([0.4] * 10)
    assert (constant.low, constant.high) == pytest.approx((0.4, 0.4))


def test_paired_difference() -> None:
    same = paired_difference([0.1, 0.5, 0.9], [0.1, 0.5, 0.9])
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0) and not same.excludes_zero
    better = paired_difference([1.0] * 20, [0.0] * 10 + [0.5] * 10)
    assert better.mean == pytest.approx(0.75) and better.excludes_zero
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference([1.0], [1.0, 2.0])
