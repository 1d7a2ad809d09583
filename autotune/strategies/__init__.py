"""Strategies propose configurations and learn from scores; they never run anything.

One registry maps names (and aliases) to classes; `create_strategy` and `restore_strategy` are the
factory the study loop and the Python API share.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SpecError, did_you_mean
from ..space import Space
from . import auto, gp, grid, random_search, tpe  # noqa: F401  (the built-in strategies register themselves)
from .base import STRATEGIES, Strategy, register

__all__ = ["STRATEGIES", "Strategy", "check_fits", "create_strategy", "normalize_spec", "register", "resolve_name",
           "restore_strategy"]
ALIASES = {"bayesian": "tpe"}


def resolve_name(name: str, path: str = "strategy.name") -> str:
    name = ALIASES.get(name, name)
    if name not in STRATEGIES:
        known = sorted(STRATEGIES) + sorted(ALIASES)
        raise SpecError(path, f"unknown strategy {name!r}; use one of {', '.join(known)}" + did_you_mean(name, known))
    return name


def normalize_spec(spec: Any, path: str = "strategy") -> dict:
    """The task's `strategy` (a name or a mapping) as {name, seed, **options}, checked against the class."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {})
    name = resolve_name(spec.pop("name", "auto"), f"{path}.name")
    cls = STRATEGIES[name]
    options = {cls.OPTION_ALIASES.get(k, k): v for k, v in spec.items()}
    for key in options:
        if key != "seed" and key not in cls.OPTIONS:
            raise SpecError(f"{path}.{key}", f"does not apply to the {name} strategy")
    return {"name": name, **options}


def create_strategy(spec: Any, space: Space, max_trials: int | None = None, objectives: int = 1) -> Strategy:
    """A strategy from the task's `strategy` mapping (or name) for `space` and that many objectives."""
    options = normalize_spec(spec)
    cls = STRATEGIES[options.pop("name")]
    check_fits(cls, space, objectives)
    if cls.chooses:
        options["objectives"] = objectives
    return cls(space, max_trials=max_trials, **options)


def check_fits(cls: type[Strategy], space: Space, objectives: int = 1) -> None:
    """Refuse a strategy for a space or a number of objectives it does not take, naming the ones that do."""
    for needed, flag, what in ((space.conditional, "conditional", "conditional parameters (when:)"),
                               (objectives > 1, "multi_objective", "several objectives")):
        if needed and not getattr(cls, flag):
            able = sorted(name for name, other in STRATEGIES.items() if getattr(other, flag))
            raise SpecError("strategy.name", f"the {cls.name} strategy does not take {what}; use one of {', '.join(able)}")


def restore_strategy(state: Mapping[str, Any], space: Space,
                     history: Iterable[Mapping[str, Any]] | None = None) -> Strategy:
    """The strategy exactly as `state()` left it: its random generator and counters from the state, the
    rest learnt again from `history`, the trials told to it in the order they were told
    ({"params", "score", "status", "step"?}; status "running" for one asked and not told yet)."""
    return STRATEGIES[resolve_name(state["name"])].from_state(state, space, history)

