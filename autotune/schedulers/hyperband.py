"""Hyperband (Li et al. 2018) as brackets of ASHA, as Optuna's HyperbandPruner and Syne Tune's build it;
each bracket judges as our asha does, a trial by its best score so far.

Bracket b is an ASHA whose first rung is min_step * reduction_factor^b: bracket 0 stops the most, the last
bracket has no rung below max_step and never stops. This hedges against curves that cross: a trial that
starts slow but ends well survives in the later brackets. Each trial goes to one bracket, drawn with
Hyperband's weights (bracket b gets ceil(n * rf^(n-1-b) / (n-b)) of every sum-of-weights trials, n the
number of brackets) from the seed and the trial id alone, so a resumed study draws the same brackets.
"""
from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from .asha import ASHAScheduler
from .base import Decision, Scheduler, check_steps, register
from .fifo import FIFOScheduler


@register
class HyperbandScheduler(Scheduler):
    name = "hyperband"
    OPTIONS = ("min_step", "max_step", "reduction_factor")

    def __init__(self, seed: int = 0, min_step: int = 1, max_step: int | None = None, reduction_factor: int = 3):
        super().__init__(seed, min_step=min_step, max_step=max_step, reduction_factor=reduction_factor)
        # One bracket per rung of the first (each starting at that rung), plus one that never stops.
        first = ASHAScheduler(seed, min_step, max_step, reduction_factor)
        self.brackets = [first, *(ASHAScheduler(seed, rung, max_step, reduction_factor)
                                  for rung in list(first.rung_steps(max_step))[1:]), FIFOScheduler(seed)]
        count = len(self.brackets)
        self.weights = [math.ceil(count * reduction_factor ** (count - 1 - b) / (count - b)) for b in range(count)]
        self.assigned: dict[int, int] = {}

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> str | None:
        if options.get("max_step") is None:
            return "hyperband needs max_step (the full number of steps) to place its brackets"
        return check_steps(options)

    def bracket_of(self, trial_id: int) -> int:
        if trial_id not in self.assigned:
            draw = random.Random(f"hyperband:{self.seed}:{trial_id}").random() * sum(self.weights)
            bracket = 0
            while draw >= self.weights[bracket] and bracket < len(self.weights) - 1:
                draw -= self.weights[bracket]
                bracket += 1
            self.assigned[trial_id] = bracket
        return self.assigned[trial_id]

    def on_report(self, trial_id: int, step: int, score: float | None) -> Decision:
        return self.brackets[self.bracket_of(trial_id)].on_report(trial_id, step, score)

    def on_finish(self, trial_id: int) -> None:
        self.brackets[self.bracket_of(trial_id)].on_finish(trial_id)
