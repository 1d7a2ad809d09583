"""The seed's task keys (task_name; optimization: {strategy, objective, max_iterations, ...}) folded
into the native ones, so tasks written for the seed's tuner run unchanged."""
from __future__ import annotations

from collections.abc import Mapping

from ..errors import SpecError

SEED_STRATEGIES = {"grid_search": "grid", "random": "random", "bayesian": "tpe"}


def normalize_seed_form(raw: Mapping) -> dict:
    """Fold the seed's keys into the native ones, refusing contradictions."""
    raw = dict(raw)
    if "task_name" in raw:
        if "name" in raw:
            raise SpecError("task_name", "conflicts with name; give one of them")
        raw["name"] = raw.pop("task_name")
    if "name" not in raw:
        raise SpecError("name", "missing; every task needs a name ([A-Za-z0-9_.-]+)")
    opt = raw.pop("optimization", None)
    if opt is None:
        return raw
    for key, native in (("strategy", "strategy"), ("objective", "objective")):
        if key in opt and native in raw:
            raise SpecError(f"optimization.{key}", f"conflicts with the top-level {native}; give one of them")
    if "max_iterations" in opt and "max_trials" in raw.get("budget", {}):
        raise SpecError("optimization.max_iterations", "conflicts with budget.max_trials; give one of them")
    if "objective" in opt:
        raw["objective"] = opt["objective"]
    if "max_iterations" in opt:
        raw["budget"] = {**raw.get("budget", {}), "max_trials": opt["max_iterations"]}
    if "strategy" in opt:
        strategy = {"name": SEED_STRATEGIES[opt["strategy"]]}
        if "seed" in opt:
            strategy["seed"] = opt["seed"]
        # The seed carries n_initial_random whatever its strategy; only tpe has a use for it.
        if "n_initial_random" in opt and strategy["name"] == "tpe":
            strategy["n_startup_trials"] = opt["n_initial_random"]
        raw["strategy"] = strategy
    elif "seed" in opt or "n_initial_random" in opt:
        raise SpecError("optimization", "seed and n_initial_random need optimization.strategy beside them")
    return raw
