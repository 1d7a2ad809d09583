"""Reading DESIGN's report dict for the renderers (html, junit, compare).

The dict grows while the product does (finalists, SLO columns, `step`, `gpus`, several objectives and
`front`), and a report may come from an older or newer autotune: everything here treats optional fields
as possibly missing or null, so a renderer shows what is present and never fails on what is not.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from .errors import SpecError
from .objective import Objective, parse_objective
from .progress import format_number

# The metrics SLOs read (DESIGN "Metrics and objective"): shown first after the objectives.
SLO_METRICS = ("p50_e2e_latency", "p90_e2e_latency", "p99_e2e_latency", "mean_ttft", "mean_tpot")


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (null, NaN, strings, booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Goal:
    """One objective of the study, and how to read it from a trial."""

    label: str            # as a person reads it: "throughput", "latency p90"
    direction: str        # minimize | maximize
    objective: Objective
    index: int            # position among the study's objectives
    several: bool         # the study has more than one objective

    def value(self, trial: dict) -> float | None:
        """The trial's value for this objective: its `value` (a list with several objectives), else
        the objective's metric in its metrics."""
        value = trial.get("value")
        if isinstance(value, list):
            value = value[self.index] if self.index < len(value) else None
        elif self.several:
            value = None
        if number(value) is None:
            value = self.objective.value(trial.get("metrics") or {})[1]
        return number(value)

    def run_values(self, runs: list | None) -> list[float]:
        """This objective's value in each run that measured it."""
        return [v for v in (number(self.objective.value(r or {})[1]) for r in runs or []) if v is not None]

    @property
    def axis(self) -> str:
        return f"{self.label} ({'lower' if self.direction == 'minimize' else 'higher'} is better)"


def goals(report: dict) -> list[Goal]:
    """The study's objectives: `objectives` when there are several, else `objective`."""
    study = report.get("study") or {}
    specs = study.get("objectives") or [study.get("objective") or {}]
    specs = [s if isinstance(s, dict) else {"metric": str(s)} for s in specs]
    return [_goal(spec, i, len(specs) > 1) for i, spec in enumerate(specs)]


def _goal(spec: dict, index: int, several: bool) -> Goal:
    metric = str(spec.get("metric") or "value")
    direction = spec.get("direction") if spec.get("direction") in ("minimize", "maximize") else "minimize"
    try:
        objective = parse_objective({k: v for k, v in spec.items() if k in ("metric", "direction", "stat")})
    except (SpecError, KeyError, TypeError):
        objective = Objective(metric, direction, (metric,))
    label = f"{metric} {spec['stat']}" if spec.get("stat") else metric
    return Goal(label, objective.direction, objective, index, several)


def trials(report: dict) -> list[dict]:
    """The report's trials in id order (a `--top` report lists them best first)."""
    return sorted((t for t in report.get("trials") or [] if isinstance(t, dict)),
                  key=lambda t: t.get("id") if isinstance(t.get("id"), int) else -1)


def param_names(trial_list: list[dict]) -> list[str]:
    names: list[str] = []
    for trial in trial_list:
        names.extend(n for n in (trial.get("params") or {}) if n not in names)
    return names


def metric_names(report: dict) -> list[str]:
    """Every metric any trial measured: the objectives' first, then those SLOs read, then the rest."""
    seen: list[str] = []
    for trial in report.get("trials") or []:
        seen.extend(m for m in (trial.get("metrics") or {}) if m not in seen)
    first = [c for g in goals(report) for c in g.objective.candidates if c in seen]
    first += [m for m in SLO_METRICS if m in seen and m not in first]
    return first + sorted(m for m in seen if m not in first)


def best_id(report: dict) -> int | None:
    return (report.get("best") or {}).get("trial_id")


def baseline_id(report: dict) -> int | None:
    return (report.get("baseline") or {}).get("trial_id")


def front_ids(report: dict) -> set:
    return set(report.get("front") or [])


def finalists(report: dict) -> list[dict]:
    return [f for f in report.get("finalists") or [] if isinstance(f, dict)]


def metric_ranges(runs: list | None) -> dict[str, tuple[float, float, float]]:
    """Per metric over runs: (median, min, max) of the finite values."""
    values: dict[str, list[float]] = {}
    for run in runs or []:
        for name, value in (run or {}).items():
            if number(value) is not None:
                values.setdefault(name, []).append(float(value))
    return {name: (statistics.median(v), min(v), max(v)) for name, v in values.items()}


def format_value(value: Any) -> str:
    """A cell: 6 significant digits for floats, '-' for null, lists joined."""
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return format_number(value)


def format_params(params: dict | None) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in (params or {}).items())
