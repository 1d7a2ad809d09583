"""The validated task: frozen dataclasses, built once by `load_task` and never changed."""
from __future__ import annotations

import copyreg
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..objective import SLO, Objective
from ..space import Space
from ..strategies import create_strategy
from .durations import format_duration

# A task crosses process boundaries (Ray ships it to the node that runs the trial); read-only mappings
# pickle as plain dicts wrapped again.
copyreg.pickle(MappingProxyType, lambda m: (MappingProxyType, (dict(m),)))

DEFAULT_MAX_TRIALS = 50
DEFAULT_READY_TIMEOUT = 600.0


def frozen(mapping: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


def empty() -> Mapping:
    return field(default_factory=frozen)


@dataclass(frozen=True)
class Ready:
    http: str | None = None
    tcp: str | None = None
    log: str | None = None
    timeout: float = DEFAULT_READY_TIMEOUT
    interval: float = 0.5


@dataclass(frozen=True)
class Service:
    command: tuple
    env: Mapping = empty()
    ready: Ready | None = None
    stop_timeout: float = 10.0


@dataclass(frozen=True)
class MetricsSpec:
    format: str = "auto"
    file: str | None = None
    regex: Mapping = empty()


@dataclass(frozen=True)
class Finalists:
    top_k: int
    repeats: int = 3
    interleave: bool = True   # A B C A B C, a service start per run; false: each one's runs together


@dataclass(frozen=True)
class FailFast:
    """Stop a study whose trials keep failing: `first` trials that all failed, or `streak` in a row that
    failed for the same reason. 0 turns a check off."""
    first: int = 5
    streak: int = 10


@dataclass(frozen=True)
class Budget:
    max_trials: int | None = None
    max_time: float | None = None
    max_failed_trials: int | None = None
    fail_fast: FailFast = FailFast()


@dataclass(frozen=True)
class Resources:
    gpus: int | tuple = 0               # per trial: an int, or factors (ints and parameter names) to multiply
    devices: str | tuple = "auto"       # "auto" or the device ids
    visible_devices_env: str = "CUDA_VISIBLE_DEVICES"
    cpus: float = 1.0


@dataclass(frozen=True)
class ExecutorSpec:
    name: str = "local"
    options: Mapping = empty()


@dataclass(frozen=True)
class EarlyStopping:
    name: str = "none"
    options: Mapping = empty()          # the scheduler's: min_step, max_step, reduction_factor
    objective: Objective | None = None  # what progress reports are scored on; None: the task's objective


@dataclass(frozen=True)
class Task:
    name: str
    command: tuple
    space: Space
    objectives: tuple              # one Objective, or two or three (the answer is then a Pareto front)
    strategy: Mapping              # {name, seed?, **options}, names resolved
    source: Path
    workdir: Path
    slo: SLO = SLO()
    budget: Budget = Budget()
    env: Mapping = empty()
    service: Service | None = None
    timeout: float | None = None
    kill_grace: float = 5.0
    repeats: int = 1
    warmup: int = 0
    parallel: int | None = None    # None: 1, or as many trials as the GPUs hold
    metrics: MetricsSpec = MetricsSpec()
    baseline: Mapping | None = None
    finalists: Finalists | None = None
    resources: Resources | None = None
    executor: ExecutorSpec = ExecutorSpec()
    early_stopping: EarlyStopping = EarlyStopping()

    @property
    def objective(self) -> Objective:
        """The objective, or the first of several (what a progress report and early stopping read)."""
        return self.objectives[0]

    @property
    def several(self) -> bool:
        return len(self.objectives) > 1

    @property
    def max_trials(self) -> int:
        if self.budget.max_trials is not None:
            return self.budget.max_trials
        return self.space.size if self.strategy["name"] == "grid" else DEFAULT_MAX_TRIALS

    def built_strategy(self, seed: int | None = None, max_trials: int | None = None):
        """The strategy a study of this task starts with: seeded as the task says (or `seed`), else at
        random; told the task's budget (or `max_trials`) and its number of objectives."""
        spec = dict(self.strategy) if seed is None else {**self.strategy, "seed": seed}
        return create_strategy(spec, self.space, max_trials=max_trials or self.max_trials,
                               objectives=len(self.objectives))

    def summary(self) -> str:
        """One line for `validate`: name, parameters and kinds, grid size, strategy (as built for the study:
        auto says what it will choose), objective, budget."""
        grid = f"grid size {self.space.size}" if self.space.finite else "continuous space"
        budget = [f"max_trials {self.max_trials}"]
        if self.budget.max_time:
            budget.append(f"max_time {format_duration(self.budget.max_time)}")
        if self.budget.max_failed_trials:
            budget.append(f"max_failed_trials {self.budget.max_failed_trials}")
        where = f"; executor {self.executor.name}" if self.executor.name != "local" else ""
        stopping = self.early_stopping
        if stopping.name != "none":
            options = ", ".join(f"{k} {v}" for k, v in stopping.options.items())
            on = f" on {stopping.objective.metric}" if stopping.objective else ""
            where += f"; early stopping {stopping.name}{on}" + (f" ({options})" if options else "")
        return (f"{self.name}: {len(self.space.params)} parameters ({self.space.describe()}); {grid}; "
                f"strategy {self.built_strategy().describe()}; {'objectives' if self.several else 'objective'} "
                f"{' and '.join(f'{o.direction} {o.label}' for o in self.objectives)}; "
                f"budget {', '.join(budget)}{where}")
