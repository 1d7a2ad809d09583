"""How much to trust a measurement: the spread of repeated runs, and whether one configuration beats
another beyond that noise (non-overlapping ranges, or a rank test when there are enough runs).

Written here in numpy rather than taken from scipy, which is not a core dependency: an exact
Mann-Whitney U test over all splits of a few runs is a few lines.
"""
from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence

import numpy as np

NOISY = 0.10          # relative spread past which measurements are called noisy
RANK_TEST_RUNS = 5    # runs per side from which the rank test decides instead of the ranges
SIGNIFICANCE = 0.05
MAX_EXACT_SPLITS = 20_000


def spread(values: Sequence[float]) -> float | None:
    """(max - min) / |median| of a configuration's repeated measurements; None for fewer than two."""
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    return (max(values) - min(values)) / abs(middle) if middle else math.inf


def mann_whitney_p(better: Sequence[float], worse: Sequence[float]) -> float:
    """One-sided p-value that `better` (lower is better) is not stochastically lower than `worse`:
    exact over every split of the pooled runs when there are few, else the normal approximation."""
    pooled = np.array(list(better) + list(worse), dtype=float)
    ranks = _ranks(pooled)
    n1, n2 = len(better), len(worse)
    observed = ranks[:n1].sum()
    if math.comb(n1 + n2, n1) <= MAX_EXACT_SPLITS:
        sums = np.array([ranks[list(idx)].sum() for idx in itertools.combinations(range(n1 + n2), n1)])
        return float((sums <= observed + 1e-9).mean())
    u = observed - n1 * (n1 + 1) / 2
    mean, sd = n1 * n2 / 2, math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return 0.5 * math.erfc(-((u - mean + 0.5) / sd) / math.sqrt(2))


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def beats(winner: Sequence[float], other: Sequence[float]) -> tuple[bool, str]:
    """Whether the winner's per-run scores (lower is better) beat the other's beyond the noise, and how
    that was judged."""
    if min(len(winner), len(other)) >= RANK_TEST_RUNS:
        p = mann_whitney_p(winner, other)
        return p < SIGNIFICANCE, f"rank test p={p:.3g}"
    return max(winner) < min(other), "ranges"
