"""Every method of the benchmark behind one ask/tell interface: ours, Optuna's samplers, nevergrad's NGOpt.

A method is named owner-name: autotune-<strategy>, optuna-<tpe|random|cmaes|gp>, ngopt-<centre|random>
(NGOpt from its own default start, the middle of every range, or from a random point of the space).
Every method is told the budget it will get (ours as max_trials, NGOpt as its budget); the methods that
read it run once per budget (`budget_runs`).
"""
from __future__ import annotations

import math

import numpy as np

from autotune import Space, create_strategy

# autotune-gp is left out by default: auto chooses it on every problem here but kNN's (two integers),
# where it chooses tpe.
OURS = ("autotune-auto", "autotune-tpe", "autotune-random")
THEIRS = ("optuna-tpe", "optuna-gp", "optuna-cmaes", "optuna-random", "ngopt-centre", "ngopt-random")


class Ours:
    def __init__(self, name: str, spec: dict, seed: int, budget: int):
        self.strategy = create_strategy({"name": name, "seed": seed}, Space.from_spec(spec), max_trials=budget)

    def ask(self) -> dict:
        return self.strategy.ask()

    def tell(self, params: dict, value: float) -> None:
        self.strategy.tell(params, value)

    def describe(self) -> str:
        return self.strategy.describe()


class Optuna:
    def __init__(self, name: str, spec: dict, seed: int, budget: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        if name == "gp":
            import torch

            torch.set_num_threads(1)  # two worker processes share two cores
        sampler = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler,
                   "cmaes": optuna.samplers.CmaEsSampler, "gp": optuna.samplers.GPSampler}[name](seed=seed)
        self.study = optuna.create_study(sampler=sampler)
        self.space = Space.from_spec(spec)
        self.distributions = optuna_distributions(spec)
        self.trial = None  # asks and tells alternate here

    def ask(self) -> dict:
        """A conditional space is asked define-by-run, each parameter only when its conditions hold."""
        if not self.space.conditional:
            self.trial = self.study.ask(self.distributions)
            return self.trial.params
        self.trial, params = ask_define_by_run(self.study, self.space, self.distributions)
        return params

    def tell(self, params: dict, value: float) -> None:
        self.study.tell(self.trial, value)


def optuna_distributions(spec: dict) -> dict:
    return {k: _optuna_distribution(v) for k, v in spec.items()}


def ask_define_by_run(study, space: Space, distributions: dict):
    """A trial of an Optuna study and its params, each parameter suggested only when its `when` holds (as
    autotune's Space decides it, so a parameter is active for the same configurations in both)."""
    trial, params = study.ask(), {}
    for name in space.names:
        if space.holds(name, params):
            params[name] = _suggest(trial, name, distributions[name])
    return trial, params


def _suggest(trial, name: str, distribution):
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    kind = trial.suggest_int if isinstance(distribution, IntDistribution) else trial.suggest_float
    return kind(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


def _optuna_distribution(spec):
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(spec, list) or spec["type"] == "categorical":
        return CategoricalDistribution(spec if isinstance(spec, list) else spec["values"])
    if spec["type"] == "int":
        return IntDistribution(spec["low"], spec["high"], log=spec.get("log", False), step=spec.get("step", 1))
    return FloatDistribution(spec["low"], spec["high"], log=spec.get("log", False), step=spec.get("step"))


class NGOpt:
    """nevergrad's NGOpt (it picks its optimiser from the space and the budget). Ints and steps are
    snapped by our space after each ask, since nevergrad has no stepped floats."""

    def __init__(self, start: str, spec: dict, seed: int, budget: int):
        import warnings

        import nevergrad as ng

        warnings.filterwarnings("ignore")  # COBYLA warns about its own defaults on every run
        self.space = Space.from_spec(spec)
        rng = np.random.default_rng(seed)
        init = self.space.sample(rng) if start == "random" else None
        params = {}
        for p in self.space.params:
            if hasattr(p, "values"):
                params[p.name] = ng.p.Choice(list(p.values))
                continue
            value = None if init is None else float(init[p.name])
            kind = ng.p.Log if p.log else ng.p.Scalar
            params[p.name] = kind(init=value, lower=p.low, upper=p.high) if value is not None else \
                kind(lower=p.low, upper=p.high)
        parametrization = ng.p.Dict(**params)
        parametrization.random_state = np.random.RandomState(seed)
        self.optimizer = ng.optimizers.NGOpt(parametrization=parametrization, budget=budget)
        self.candidate = None

    def ask(self) -> dict:
        self.candidate = self.optimizer.ask()
        return {p.name: self.candidate.value[p.name] if hasattr(p, "values") else p.snap(self.candidate.value[p.name])
                for p in self.space.params}

    def tell(self, params: dict, value: float) -> None:
        self.optimizer.tell(self.candidate, value)


def best_so_far(runner, objective, budgets) -> dict:
    """Run to the largest budget; the best objective value seen by each budget."""
    best, out = math.inf, {}
    for t in range(1, max(budgets) + 1):
        params = runner.ask()
        value = objective(params)
        runner.tell(params, value)
        best = min(best, value)
        if t in budgets:
            out[t] = best
    return out


def budget_runs(method: str, budgets) -> list[tuple[int, ...]]:
    """The budgets of each run a method needs: ours and NGOpt read their budget (gp's start is sized by
    it, NGOpt picks its optimiser by it), so each budget is its own run, as a user with that many trials
    gets it; Optuna's samplers do not, so one run to the largest gives every smaller budget exactly."""
    return [tuple(budgets)] if method.startswith("optuna-") else [(b,) for b in budgets]


def make(method: str, spec: dict, seed: int, budget: int):
    owner, name = method.split("-", 1)
    cls = {"autotune": Ours, "optuna": Optuna, "ngopt": NGOpt}[owner]
    return cls(name, spec, seed, budget)
