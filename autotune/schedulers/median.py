"""The median stopping rule (Google Vizier; Katib's medianstop, Optuna's MedianPruner).

At a step s >= min_step, a trial whose best score so far is worse than the median of the other trials'
running averages at s (each one's mean score over its reports up to s) stops, once at least MIN_TRIALS
other trials reported s; so does one whose report at s cannot be scored (a diverged run). It needs no
rungs and no max_step, and stops only clear laggards. The averages at each step are kept sorted as they
arrive, so a decision costs the same at trial 10,000 as at trial 10.
"""
from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from typing import Any

from .base import Decision, Scheduler, check_steps, judged, register, worst_if_missing

MIN_TRIALS = 5  # before that many others reported a step, their median says too little (Optuna's default too)


class Curve:
    """A trial's attempt so far: its last step, the sum and count of its scores, its best, its averages."""

    def __init__(self):
        self.last_step = -1
        self.total = 0.0
        self.count = 0
        self.best = worst_if_missing(None)
        self.averages: dict[int, float] = {}  # step -> running average there, as recorded at that step


@register
class MedianScheduler(Scheduler):
    name = "median"
    OPTIONS = ("min_step", "max_step")  # max_step: only the {max_step} placeholder's value

    def __init__(self, seed: int = 0, min_step: int = 1, max_step: int | None = None):
        super().__init__(seed, min_step=min_step, max_step=max_step)
        self.min_step = min_step
        self.curves: dict[int, Curve] = {}
        self.at_step: dict[int, list[float]] = {}  # step -> the running averages reported there, sorted
        self.ended: set[int] = set()

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> str | None:
        return check_steps(options)

    def on_report(self, trial_id: int, step: int, score: float | None) -> Decision:
        if trial_id in self.ended:  # it reports again: a re-run, which starts over
            self.ended.discard(trial_id)
            self.forget(trial_id)
        curve = self.curves.setdefault(trial_id, Curve())
        if step <= curve.last_step:
            return Decision.CONTINUE  # a step again: its first report stands
        value = worst_if_missing(score)
        curve.last_step, curve.total, curve.count = step, curve.total + value, curve.count + 1
        curve.best = min(curve.best, value)
        others = self.at_step.setdefault(step, [])
        median = _median(others) if len(others) >= MIN_TRIALS else None
        curve.averages[step] = curve.total / curve.count
        insort(others, curve.averages[step])
        if step >= self.min_step and median is not None and judged(score, curve.best) > median:
            return Decision.STOP
        return Decision.CONTINUE

    def on_finish(self, trial_id: int) -> None:
        self.ended.add(trial_id)

    def forget(self, trial_id: int) -> None:
        """Take a trial's averages back (its attempt is void)."""
        for step, average in self.curves.pop(trial_id, Curve()).averages.items():
            self.at_step[step].remove(average)


def _median(ordered: list[float]) -> float:
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
