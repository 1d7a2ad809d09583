"""auto: the strategy that the strategy benchmark (benchmarks/strategies.py) shows best for this space
and budget, chosen once at the start and kept in the state, so a resumed study goes on with the same.

- A finite space that the budget covers: grid, since every configuration will be measured anyway and
  grid's order is reproducible.
- At most TPE_PARAMETERS parameters: tpe, unless all are continuous (floats without a step) and the
  budget is under TPE_FROM_TRIALS, or up to 100 trials where gp closes with local steps (2 parameters,
  one objective); no budget is under neither. On bbob in 2 dimensions (median over functions of log10
  regret) gp with those steps is ahead of tpe at 20, 50 and 100 trials on the benchmark's 20 seeds
  (0.441 against 0.727, -0.041 against 0.144, -0.610 against -0.274) and on seeds it does not use
  (200-259 at 20, 200-219 else: 0.356 against 0.739, 0.046 against 0.258, -0.436 against -0.278).
  Without them (one parameter, several objectives) gp led tpe at 20 to 40 trials and trailed it at 50
  and 100 on bbob's 2 dimensions. On the scikit-learn problems with 2 parameters gp was ahead at 16 and
  32 trials where both are continuous (logistic regression's C and intercept scaling: 7 of 8 cells,
  seeds 0-19; with the local steps 4 of 4, seeds 10-19) and tpe where both are integers (kNN: 10 of 12).
- Otherwise gp, ahead at 5 and 10 dimensions on bbob and on the mixed server-shaped objective, its
  conditional variant included, and with several objectives (ParEGO) no worse than Optuna's
  multi-objective samplers in every cell of the multi-objective benchmark and ahead of tpe in all but
  one (benchmarks/multi_objective.py).
- Past GP_TRIALS trials (a larger budget, or none, as in a study bounded by time) it hands over to tpe:
  gp's ask grows with the cube of the trials, tpe's stays in milliseconds, and
  by then tpe has had the same history to learn from.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..space import Categorical
from .base import RUNNING, STRATEGIES, Strategy, register
from .gp import LOCAL_PARAMETERS

GP_TRIALS = 200
TPE_PARAMETERS = 2
TPE_FROM_TRIALS = 50
TPE_FROM_TRIALS_LOCAL = 101  # where gp closes with local steps (2 continuous parameters, one objective)


def plan(space, max_trials: int | None, objectives: int = 1) -> tuple[list[tuple[str, int | None]], str]:
    """The strategies to use, each up to a number of trials (None: to the end), and why."""
    numeric = sum(not isinstance(p, Categorical) for p in space.params)
    kinds = f"{numeric} numeric, {len(space.params) - numeric} categorical" if numeric < len(space.params) \
        else f"{numeric} numeric"
    budget = "no trial budget" if max_trials is None else f"budget {max_trials}"
    if space.finite and max_trials is not None and space.size <= max_trials:
        return [("grid", None)], f"all {space.size} configurations fit the budget of {max_trials}"
    shape = f"{kinds} parameters" + (f" ({len(space.when)} conditional)" if space.conditional else "") + \
        (f", {objectives} objectives" if objectives > 1 else "")
    if len(space.params) <= TPE_PARAMETERS:
        local = len(space.params) == LOCAL_PARAMETERS and objectives == 1
        if max_trials is None or max_trials >= (TPE_FROM_TRIALS_LOCAL if local else TPE_FROM_TRIALS):
            return [("tpe", None)], f"{shape}, {budget}"
        if not space.continuous:
            return [("tpe", None)], f"{shape}, not all continuous, {budget}"
    if max_trials is not None and max_trials <= GP_TRIALS:
        return [("gp", None)], f"{shape}, {budget}"
    return [("gp", GP_TRIALS), ("tpe", None)], f"{shape}, {budget}; tpe after {GP_TRIALS} trials"


@register
class AutoStrategy(Strategy):
    name = "auto"
    multi_objective = conditional = chooses = True

    def __init__(self, space, seed=None, max_trials=None, objectives: int = 1, **options):
        super().__init__(space, seed, max_trials, **options)
        self.plan, self.reason = plan(space, max_trials, objectives)
        # Every strategy of the plan learns every trial, so the next one starts with the whole history.
        self.inner = [STRATEGIES[name](space, seed=self.seed, max_trials=max_trials) for name, _ in self.plan]
        self.told = 0

    @property
    def current(self) -> Strategy:
        """The strategy of the plan in charge: by the number of trials told or running, as in the history."""
        trials = self.told + len(self.pending)
        for strategy, (_, until) in zip(self.inner, self.plan):
            if until is None or trials < until:
                return strategy
        return self.inner[-1]

    def describe(self) -> str:
        names = ", then ".join(name for name, _ in self.plan)
        return f"auto: {names} ({self.reason})"

    @property
    def exhausted(self) -> bool:
        return self.current.exhausted

    def ask(self) -> dict | None:
        current = self.current
        params = current.ask()
        if params is not None:
            self.pending.append(params)
            for strategy in self.inner:
                if strategy is not current:
                    strategy.asked(params)
        return params

    def tell(self, params: Mapping[str, Any], score: float | None, status: str = "completed",
             step: int | None = None) -> None:
        for strategy in self.inner:
            strategy.tell(params, score, status, step)
        self.told += 1
        self._settle(params)

    def asked(self, params: Mapping[str, Any]) -> None:
        super().asked(params)
        for strategy in self.inner:
            strategy.asked(params)

    def state(self) -> dict:
        return {"name": self.name, "seed": self.seed, "max_trials": self.max_trials, "options": self.options,
                "plan": [list(step) for step in self.plan], "reason": self.reason,
                "inner": [strategy.state() for strategy in self.inner]}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], space, history: Iterable[Mapping[str, Any]] | None = None):
        """The plan from the state, not chosen again (a later release may choose differently)."""
        strategy = cls.__new__(cls)
        Strategy.__init__(strategy, space, state["seed"], state.get("max_trials"), **state.get("options", {}))
        strategy.plan = [(name, until) for name, until in state["plan"]]
        strategy.reason = state["reason"]
        history = list(history or [])
        strategy.inner = [STRATEGIES[inner["name"]].from_state(inner, space, history) for inner in state["inner"]]
        strategy.told = sum(entry["status"] != RUNNING for entry in history)
        strategy.pending = [dict(entry["params"]) for entry in history if entry["status"] == RUNNING]
        return strategy
