"""Grid search over the product of the parameters' values (in a conditional space, only the combinations
that can occur).

With a budget that covers the grid it walks the product in its stable order (the last parameter
varies fastest). With a smaller budget it takes a spread-out subset rather than the first N (the
seed's truncation only ever varied the last parameters): starting at the grid's centre, each next
point is the one farthest from all points seen so far (greedy farthest-point sampling), so every
prefix of the order covers the space evenly and a resumed, larger budget continues it.
"""
from __future__ import annotations

import numpy as np

from .base import Strategy, register

# Farthest-point sampling costs candidates x dims per step. A grid with more configurations than this
# (12 parameters of 100 values hold 1e24) is represented by this many candidates drawn from it.
MAX_SPREAD_CANDIDATES = 1 << 16


@register
class GridStrategy(Strategy):
    name = "grid"
    needs_finite_space = True
    multi_objective = True  # it never reads scores
    conditional = True

    def __init__(self, space, seed=None, max_trials=None, **options):
        if not space.finite:  # the task's validation says which parameter; this guards the Python API
            raise ValueError("grid needs a finite space: choices, ints, or floats with a step")
        super().__init__(space, seed, max_trials, **options)
        self.spread = max_trials is not None and max_trials < space.size
        self._cursor = 0
        self._points = self._min_dist = self._digits = None

    def ask(self) -> dict | None:
        if self.exhausted:
            return None
        index = self._next_spread() if self.spread else self._next_in_order()
        self._mark(index)
        return self.space.config_at(index)

    def _next_in_order(self) -> int:
        while self._is_seen(self._cursor):
            self._cursor += 1
        return self._cursor

    def _next_spread(self) -> int:
        if self._points is None:
            self._build_points()
        if not np.isfinite(self._min_dist).any():  # nothing seen yet: start at the centre
            centre = np.full(self._points.shape[1], 0.5)
            return self._index(int(np.argmin(((self._points - centre) ** 2).sum(axis=1))))
        for i in np.argsort(-self._min_dist, kind="stable"):
            index = self._index(int(i))
            if not self._is_seen(index):
                return index
        return self._next_in_order()  # every candidate seen; the rest of the grid in order

    def _build_points(self) -> None:
        sizes = np.array([len(g) for g in self.space.grids], dtype=np.int64)
        if self.space.size <= MAX_SPREAD_CANDIDATES:
            self._digits = np.stack(self.space.digits(np.arange(self.space.size, dtype=np.int64)), axis=1)
        else:  # drawn from their own generator, so the strategy's random stream is left as it was
            rng = np.random.default_rng([self.seed, len(sizes)])
            drawn = rng.integers(0, sizes, size=(MAX_SPREAD_CANDIDATES - 1, len(sizes)))
            # the centre is always a candidate; in a conditional space, a draw drops its inactive parameters
            self._digits = self.space.valid_digits(np.vstack([(sizes - 1) // 2, drawn]))
        self._points = self.space.coords(self._digits)
        self._min_dist = np.full(len(self._digits), np.inf)
        for index in self._seen:
            self._update(index)

    def _index(self, row: int) -> int:
        """The configuration index of a candidate (Python ints, which never overflow)."""
        return self.space.index_from_digits(self._digits[row])

    def _update(self, index: int) -> None:
        point = np.array(self.space.unit_coords(index))
        self._min_dist = np.minimum(self._min_dist, ((self._points - point) ** 2).sum(axis=1))

    def _mark(self, index: int) -> None:
        super()._mark(index)
        if self._points is not None:
            self._update(index)
