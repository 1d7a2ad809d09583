"""Tree-structured Parzen Estimator (multivariate), in numpy.

Observations are split into a good group (the best gamma fraction, at most 25) and the rest; each
group becomes a Parzen mixture over the whole configuration (truncated Gaussians on the unit scale of
numeric parameters with Optuna's neighbour-gap bandwidths narrowed, smoothed one-hots on categoricals, plus a
broad prior component). Candidates drawn
from the good mixture are ranked by log l(x) - log g(x). Failed trials are left out; pruned ones rank
below every completed one, a later step above an earlier one, then by their last score (as Optuna's TPE
ranks them), so with early stopping the good group fills from the trials that got furthest; infeasible
ones count as the worst, and running trials too (a constant liar), so parallel workers do not crowd one
point. In a finite space the best-ranked unseen candidate wins, and when every candidate was seen it
takes an unseen configuration at random: never a repeat.

Observations are encoded once, when told, so ask costs O(candidates x observations x parameters).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..space import Categorical
from .base import Strategy, register

PRIOR_WEIGHT = 1.0
# Kernels 0.7 times as wide as Optuna's neighbour-gap rule: more exploitation near good points. Chosen on
# the bbob benchmark and checked on seeds it was not chosen on (benchmarks/strategies.py).
BANDWIDTH_FACTOR = 0.7
MAX_GOOD = 25
FLAT_WEIGHTS = 25
WORST = (2, 0, 0.0)  # the rank of infeasible and running trials


@register
class TPEStrategy(Strategy):
    name = "tpe"
    OPTIONS = ("n_startup_trials", "n_ei_candidates", "gamma")
    OPTION_ALIASES = {"n_initial_random": "n_startup_trials"}

    def __init__(self, space, seed=None, max_trials=None, n_startup_trials: int = 10, n_ei_candidates: int = 24,
                 gamma: float = 0.1):
        super().__init__(space, seed, max_trials, n_startup_trials=n_startup_trials,
                         n_ei_candidates=n_ei_candidates, gamma=gamma)
        self.n_startup_trials = n_startup_trials
        self.n_ei_candidates = n_ei_candidates
        self.gamma = gamma
        self.is_categorical = np.array([isinstance(p, Categorical) for p in space.params])
        self.observations: list[tuple[dict, tuple]] = []  # (params, rank key: lower ranks better)
        self._rows: list[np.ndarray] = []
        self.pending: list[dict] = []
        self.design: np.ndarray | None = None  # the startup trials' Latin hypercube, drawn at the first ask
        self.startup_asked = 0

    # -- contract -------------------------------------------------------------------------------
    def ask(self) -> dict | None:
        if self.exhausted:
            return None
        if len(self.observations) < max(1, self.n_startup_trials):
            params = self._startup_proposal()
        else:
            params = self._model_proposal()
        self.pending.append(params)
        return params

    def tell(self, params: Mapping[str, Any], score: float | None, status: str = "completed",
             step: int | None = None) -> None:
        super().tell(params, score, status, step)
        for i, p in enumerate(self.pending):
            if p == dict(params):
                del self.pending[i]
                break
        if status != "failed":
            self._observe(dict(params), _rank(status, score, step))

    def asked(self, params: Mapping[str, Any]) -> None:
        super().asked(params)
        self.pending.append(dict(params))

    def counters(self) -> dict:
        return {"startup_asked": self.startup_asked}

    def restore_counters(self, state: Mapping[str, Any]) -> None:
        self.startup_asked = state.get("startup_asked", 0)
        if state.get("design") is not None:  # format 1 kept the design it drew
            self.design = np.array(state["design"], dtype=float)

    def _startup_proposal(self) -> dict:
        """The startup trials cover the space as a Latin hypercube (each parameter's range cut into
        n_startup_trials strata, one point in each) rather than at random: better spread for the
        few trials the model starts from. A configuration already seen falls back to random."""
        n = max(1, self.n_startup_trials)
        if self.design is None:  # from its own generator, so it is known again from the seed alone
            rng, shape = np.random.default_rng([self.seed, n]), (n, len(self.space.params))
            self.design = (np.argsort(rng.random(shape), axis=0) + rng.random(shape)) / n
        if self.startup_asked >= n:
            return self._random_proposal()
        row = self.design[self.startup_asked]
        self.startup_asked += 1
        params = {p.name: p.values[min(int(u * len(p.values)), len(p.values) - 1)] if isinstance(p, Categorical)
                  else p.from_unit(float(u)) for p, u in zip(self.space.params, row)}
        index = self.space.index_of(params)
        if self._is_seen(index):
            return self._random_proposal()
        if index is not None:
            self._mark(index)
        return params

    # -- model ----------------------------------------------------------------------------------
    def _observe(self, params: dict, rank: tuple) -> None:
        self.observations.append((params, rank))
        self._rows.append(self._encode(params))

    def _encode(self, params: Mapping[str, Any]) -> np.ndarray:
        return np.array([p.index(params[p.name]) if isinstance(p, Categorical) else p.to_unit(params[p.name])
                         for p in self.space.params], dtype=float)

    def _decode(self, row: np.ndarray) -> dict:
        return {p.name: p.values[int(x)] if isinstance(p, Categorical) else p.from_unit(float(x))
                for p, x in zip(self.space.params, row)}

    def _model_proposal(self) -> dict:
        rows = self._rows + [self._encode(p) for p in self.pending]
        ranks = [r for _, r in self.observations] + [WORST] * len(self.pending)
        order = np.array(sorted(range(len(ranks)), key=ranks.__getitem__), dtype=int)  # stable: ties by age
        n_good = max(1, min(math.ceil(self.gamma * len(order)), MAX_GOOD))
        good, bad = np.sort(order[:n_good]), np.sort(order[n_good:])  # back in trial order, for the weights
        X = np.array(rows)
        below = Parzen(X[good], self.space, self.is_categorical)
        above = Parzen(X[bad], self.space, self.is_categorical)
        candidates = [self._decode(row) for row in below.sample(self.rng, self.n_ei_candidates)]
        encoded = np.array([self._encode(c) for c in candidates])
        ranking = np.argsort(-(below.log_pdf(encoded) - above.log_pdf(encoded)), kind="stable")
        if not self.space.finite:
            return candidates[ranking[0]]
        for i in ranking:
            index = self.space.index_of(candidates[i])
            if not self._is_seen(index):
                self._mark(index)
                return candidates[i]
        index = self._unseen_at_random()
        self._mark(index)
        return self.space.config_at(index)


def _rank(status: str, score: float | None, step: int | None) -> tuple:
    """Where a told trial sorts among the observations, best first."""
    if status == "completed":
        return (0, 0, float(score))
    if status == "pruned":
        return (1, -(step or 0), math.inf if score is None else float(score))
    return WORST


def _weights(n: int) -> np.ndarray:
    """Optuna's default: equal weights for the newest 25 observations, a ramp down for older ones."""
    if n < FLAT_WEIGHTS:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, n - FLAT_WEIGHTS), np.ones(FLAT_WEIGHTS)])


class Parzen:
    """A mixture with one component per observation plus a prior, each a product over parameters."""

    def __init__(self, rows: np.ndarray, space, is_categorical: np.ndarray):
        n = len(rows)
        self.is_categorical = is_categorical
        weights = np.append(_weights(n), PRIOR_WEIGHT)
        self.log_w = np.log(weights / weights.sum())
        self.numeric = np.flatnonzero(~is_categorical)
        self.categorical = np.flatnonzero(is_categorical)
        # Numeric dims: truncated normals on [0, 1]; the prior is centred and as wide as the range.
        mus = rows[:, self.numeric] if n else np.zeros((0, len(self.numeric)))
        self.mu = np.vstack([mus, np.full((1, len(self.numeric)), 0.5)])
        self.sigma = np.vstack([_bandwidths(mus) * BANDWIDTH_FACTOR, np.ones((1, len(self.numeric)))])
        log_z = np.log(np.maximum(_phi((1 - self.mu) / self.sigma) - _phi(-self.mu / self.sigma), 1e-300))
        # Everything in a component's log density that does not depend on x, summed once here.
        self.log_const = self.log_w - (np.log(self.sigma) + log_z + 0.5 * math.log(2 * math.pi)).sum(axis=1)
        self.inv_sigma = 1.0 / self.sigma
        # Categorical dims: each observation's choice, smoothed toward uniform; the prior is uniform.
        self.probs = []
        for j in self.categorical:
            k = len(space.params[j].values)
            table = np.full((n + 1, k), PRIOR_WEIGHT / (n + 1))
            if n:
                table[np.arange(n), rows[:, j].astype(int)] += 1.0
            table[n] = 1.0
            self.probs.append(table / table.sum(axis=1, keepdims=True))
        self.log_probs = [np.log(table) for table in self.probs]

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        component = rng.choice(len(self.log_w), size=m, p=np.exp(self.log_w))
        out = np.zeros((m, len(self.is_categorical)))
        if len(self.numeric):
            out[:, self.numeric] = _truncated_normal(rng, self.mu[component], self.sigma[component])
        for j, table in zip(self.categorical, self.probs):
            p = table[component]
            out[:, j] = (rng.random((m, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
        return out

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """log density of each row of x under the mixture: logsumexp over components."""
        total = np.tile(self.log_const, (len(x), 1))  # (m, components)
        if len(self.numeric):
            z = (x[:, None, self.numeric] - self.mu[None]) * self.inv_sigma[None]
            total -= 0.5 * np.einsum("mkd,mkd->mk", z, z)
        for j, log_table in zip(self.categorical, self.log_probs):
            total += log_table[:, x[:, j].astype(int)].T
        peak = total.max(axis=1, keepdims=True)
        return (peak + np.log(np.exp(total - peak).sum(axis=1, keepdims=True)))[:, 0]


def _bandwidths(mus: np.ndarray) -> np.ndarray:
    """Per kernel and dimension, the larger gap to its sorted neighbours (the range's ends count as
    neighbours, except for the outermost kernels), clipped to [1 / min(100, n + 2), 1]: Optuna's rule."""
    n = len(mus)
    if n == 0:
        return mus
    order = np.argsort(mus, axis=0, kind="stable")
    ordered = np.take_along_axis(mus, order, axis=0)
    padded = np.vstack([np.zeros((1, mus.shape[1])), ordered, np.ones((1, mus.shape[1]))])
    gaps = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
    if n >= 2:
        gaps[0] = ordered[1] - ordered[0]
        gaps[-1] = ordered[-1] - ordered[-2]
    sigma = np.empty_like(gaps)
    np.put_along_axis(sigma, order, gaps, axis=0)
    return np.clip(sigma, 1.0 / min(100, n + 2), 1.0)


def _truncated_normal(rng: np.random.Generator, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Draws from normals truncated to [0, 1], by redrawing those that fall outside."""
    out = rng.normal(mu, sigma)
    for _ in range(100):
        outside = (out < 0) | (out > 1)
        if not outside.any():
            break
        out[outside] = rng.normal(mu[outside], sigma[outside])
    return np.clip(out, 0.0, 1.0)


def _phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF through erf. numpy has no erf and scipy is not a core dependency, so this is
    Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, ample for kernel normalisation)."""
    x = np.abs(z) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)
