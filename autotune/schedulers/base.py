"""The scheduler contract: given the scores a running trial reports, decide whether it goes on.

Like Syne Tune's schedulers it returns a decision for each report, as reports arrive, so parallel
trials never wait for each other. It sees only reported values: nothing of processes or strategies.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, ClassVar

SCHEDULERS: dict[str, type["Scheduler"]] = {}


def register(cls: type["Scheduler"]) -> type["Scheduler"]:
    """Make a scheduler class available by its name to tasks (`early_stopping.name`)."""
    SCHEDULERS[cls.name] = cls
    return cls


class Decision(str, Enum):
    CONTINUE = "continue"
    STOP = "stop"


class Scheduler:
    name: ClassVar[str]
    # The task options it accepts (`early_stopping.<option>`) besides `metric`, which every scheduler takes:
    # it is the study loop's business (it scores the reports) and never reaches the constructor.
    OPTIONS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, seed: int = 0, **options: Any):
        problem = self.check_options(options)
        if problem:
            raise ValueError(problem)
        self.seed = seed
        self.options = options

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> str | None:
        """What is wrong with a task's options for this scheduler (checked by `validate`), or None."""
        return None

    def on_report(self, trial_id: int, step: int, score: float | None) -> Decision:
        """A running trial reached `step` with this score (lower is better; None: not scorable)."""
        return Decision.CONTINUE

    def on_finish(self, trial_id: int) -> None:
        """The trial ended (completed, failed, pruned...); it reports no more."""

    def state(self) -> dict:
        """What the report history cannot give back; small and JSON-safe."""
        return {"name": self.name, "seed": self.seed, "options": dict(self.options)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], reports: Iterable[Mapping[str, Any]] = ()) -> "Scheduler":
        """Rebuild by replaying the reports ({"id", "step", "score"}) in the order they arrived; a trial
        re-run on resume reports again from its start, its earlier attempt's reports already dropped."""
        scheduler = cls(seed=state.get("seed", 0), **state.get("options", {}))
        for report in reports:
            if report.get("event") == "finished":
                scheduler.on_finish(report["id"])
            else:
                scheduler.on_report(report["id"], report["step"], report.get("score"))
        return scheduler


def check_steps(options: Mapping[str, Any]) -> str | None:
    """The step options' shared rule (the task schema's ranges too, for schedulers built from Python):
    rungs must grow, and something must lie between min_step and max_step to stop at."""
    min_step, max_step = options.get("min_step", 1), options.get("max_step")
    if min_step < 1:
        return f"min_step ({min_step}) must be at least 1"
    if options.get("reduction_factor", 2) < 2:
        return f"reduction_factor ({options['reduction_factor']}) must be at least 2"
    if max_step is not None and max_step <= min_step:
        return f"max_step ({max_step}) must be greater than min_step ({min_step}): no step is left to stop at"
    return None


def worst_if_missing(score: float | None) -> float:
    """A report that cannot be scored (a diverged run's NaN loss) ranks last; such reports tie with each other."""
    return math.inf if score is None else score


def judged(score: float | None, best: float) -> float:
    """What a trial is judged by: its best score so far, one spike aside; but a report that cannot be
    scored ranks last whatever came before, since a diverged run does not recover."""
    return worst_if_missing(None) if score is None else best
