"""Parameter importance: how much of the objective's variance each parameter explains on its own.

For each parameter the completed trials are grouped by its value (one group per category, or per value
when a number took few values; otherwise quantile bins of about two trials, up to 10), and the share of the objective's
variance explained by the differences between the group means is estimated with omega squared, the
one-way analysis of variance's effect size: (SSB - (k - 1) * MSW) / (SST + MSW), with k groups, SSB the
between-group and MSW the mean within-group sum of squares. Unlike the raw share SSB / SST it does not
grow with the number of groups, so a parameter that does nothing scores about 0 rather than about
(k - 1) / (n - 1). It is a main effect: interactions and noise are the share no parameter explains, so
the shares need not add up to 100%. Pure numpy, deterministic, and cheap at any study size.
"""
from __future__ import annotations

import numpy as np

METHOD = ("the share of the variance of the objective explained by each parameter alone (omega squared of a "
          "one-way analysis of variance over the parameter's values, or up to 10 quantile bins of a number "
          "with many values), over the completed trials; interactions and noise are the rest")
MIN_TRIALS = 4
MAX_BINS = 10


def importance(rows: list[dict], values: list[float], names: list[str]) -> dict[str, float | None]:
    """Each parameter's share (0..1) of the variance of `values` (one per row of params), largest first;
    None for a parameter whose groups leave no degrees of freedom. Empty when the values do not vary
    or there are fewer than MIN_TRIALS."""
    y = np.asarray(values, dtype=float)
    if len(y) < MIN_TRIALS or len(rows) != len(y) or not np.ptp(y) > 0:
        return {}
    shares = {name: _omega_squared(_groups([row.get(name) for row in rows]), y) for name in names}
    return dict(sorted(shares.items(), key=lambda item: -1.0 if item[1] is None else -item[1]))


def _groups(column: list) -> np.ndarray:
    """A group index per trial: quantile bins for a number with many values, else one group per value
    (an absent value, an inactive parameter, is a group of its own)."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in column)
    n_bins = int(np.clip(len(column) // 2, 2, MAX_BINS))  # about two trials a bin
    if numeric and len(set(column)) > n_bins:
        x = np.asarray(column, dtype=float)
        edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1]))
        return np.searchsorted(edges, x, side="right")
    labels = [repr(v) for v in column]
    index = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    return np.array([index[label] for label in labels])


def _omega_squared(groups: np.ndarray, y: np.ndarray) -> float | None:
    n, k = len(y), len(np.unique(groups))
    if k < 2:
        return 0.0
    if n <= k:
        return None
    total = float(np.sum((y - y.mean()) ** 2))
    between = sum(float(np.sum(groups == g)) * (float(y[groups == g].mean()) - float(y.mean())) ** 2
                  for g in np.unique(groups))
    within_mean = (total - between) / (n - k)
    return float(np.clip((between - (k - 1) * within_mean) / (total + within_mean), 0.0, 1.0))
