"""Objective and SLO scoring: a pure function from measured metrics to a trial's outcome and score."""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import SpecError, did_you_mean

CANONICAL_METRICS = (
    "mean_e2e_latency", "p50_e2e_latency", "p90_e2e_latency", "p99_e2e_latency",
    "mean_ttft", "p50_ttft", "p90_ttft", "p99_ttft",
    "mean_tpot", "p50_tpot", "p90_tpot", "p99_tpot", "mean_itl",
    "request_throughput", "mean_output_throughput", "mean_total_throughput",
    "mean_total_throughput_per_gpu", "eval_loss",
)
# Shortcut -> (default direction, metric family that takes a `stat`, or the fixed candidates in order).
SHORTCUTS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "latency": ("minimize", "e2e_latency", ()),
    "ttft": ("minimize", "ttft", ()),
    "tpot": ("minimize", "tpot", ()),
    "throughput": ("maximize", None,
                   ("mean_total_throughput_per_gpu", "mean_total_throughput", "mean_output_throughput")),
    "eval_loss": ("minimize", None, ("eval_loss",)),
}
DIRECTIONS = ("minimize", "maximize")
SLO_SHORTCUTS = {"ttft": "mean_ttft", "tpot": "mean_tpot"}  # and latency: {p50, p90, p99} -> <stat>_e2e_latency
SLO_KEYS = ("steepness", "latency", *SLO_SHORTCUTS)
# An SLO on a metric by name caps it (minimize) or floors it (maximize); these canonical names need not say.
FLOORED = ("request_throughput", "mean_output_throughput", "mean_total_throughput", "mean_total_throughput_per_gpu")
DEFAULT_STEEPNESS = 0.1
DEFAULT_FAIL_RATIO = 0.5
MAX_EXPONENT = 700.0  # exp(700) is near the float limit; past it the penalty would overflow to inf


@dataclass(frozen=True)
class Objective:
    metric: str            # as the task names it: a shortcut or a metric
    direction: str         # minimize | maximize
    candidates: tuple      # metrics read for the value, the first present wins
    stat: str | None = None

    def value(self, metrics: Mapping[str, Any]) -> tuple[str | None, Any]:
        """(metric name, value) of the first candidate present, else (None, None)."""
        for name in self.candidates:
            if name in metrics and metrics[name] is not None:
                return name, metrics[name]
        return None, None

    @property
    def label(self) -> str:
        """As a person reads it: "throughput", "latency p90"."""
        return f"{self.metric} {self.stat}" if self.stat else self.metric

    def to_json(self) -> dict:
        """What a study records, enough to parse the same objective again."""
        return {"metric": self.metric, "direction": self.direction, **({"stat": self.stat} if self.stat else {})}


@dataclass(frozen=True)
class SLOTerm:
    key: str               # latency.p90, ttft, tpot, or the metric's own name
    metric: str
    threshold: float
    weight: float = 1.0
    hard_fail: bool = False
    fail_ratio: float = DEFAULT_FAIL_RATIO
    direction: str = "minimize"   # minimize: the threshold is a ceiling; maximize: a floor

    def miss(self, actual: float) -> float:
        """Relative miss r; 0 on the right side of the threshold."""
        gap = actual - self.threshold if self.direction == "minimize" else self.threshold - actual
        return max(0.0, gap / self.threshold)

    def describe_miss(self, actual: float) -> str:
        """The miss in words: 'mean_ttft 9.2 > 2 (4.6x)'."""
        op = ">" if self.direction == "minimize" else "<"
        factor = actual / self.threshold if self.direction == "minimize" else self.threshold / max(actual, 1e-300)
        return f"{self.metric} {actual:.4g} {op} {self.threshold:g} ({factor:.3g}x)"


@dataclass(frozen=True)
class SLO:
    steepness: float = DEFAULT_STEEPNESS
    terms: tuple = ()


@dataclass(frozen=True)
class Outcome:
    status: str                  # completed | infeasible | failed
    metrics: dict                # per-metric medians over runs
    runs: list                   # each run's metrics (batches already reduced)
    value: float | None = None
    score: float | None = None
    error: str | None = None


def parse_objective(spec: Any, path: str = "objective") -> Objective:
    if isinstance(spec, str):
        # Only shortcuts in the string form, so a typo is caught; other metrics use the mapping form.
        direction, _, metric = spec.partition("_")
        if direction in DIRECTIONS and metric in SHORTCUTS:
            return _objective(metric, direction, None, path)
        if spec in SHORTCUTS:
            return _objective(spec, None, None, path)
        known = list(SHORTCUTS) + [f"{d}_{s}" for d in DIRECTIONS for s in SHORTCUTS]
        raise SpecError(path, f"unknown objective {spec!r}; use a shortcut ({', '.join(SHORTCUTS)}) with an "
                              f"optional minimize_/maximize_ prefix, or {{metric: NAME, direction: minimize}}"
                        + did_you_mean(spec, known))
    if not isinstance(spec, Mapping):
        raise SpecError(path, "must be a string or a mapping with 'metric'")
    return _objective(spec["metric"], spec.get("direction"), spec.get("stat"), path)


def _objective(metric: str, direction: str | None, stat: str | None, path: str) -> Objective:
    if metric in SHORTCUTS:
        default, family, fixed = SHORTCUTS[metric]
        if stat is not None and family is None:
            raise SpecError(f"{path}.stat", f"does not apply to {metric}")
        mapped = (f"{stat or 'mean'}_{family}",) if family else fixed
        # A metric reported under the very name the task gives wins over the shortcut's mapping.
        candidates = mapped if stat or metric in mapped else (metric, *mapped)
        return Objective(metric, direction or default, candidates, stat)
    if stat is not None:
        raise SpecError(f"{path}.stat", f"applies only to latency, ttft and tpot, not {metric!r}")
    if direction is None:
        raise SpecError(f"{path}.metric", f"unknown objective {metric!r}: a metric other than the shortcuts "
                                          f"({', '.join(SHORTCUTS)}) needs an explicit direction"
                        + did_you_mean(metric, list(SHORTCUTS) + list(CANONICAL_METRICS)))
    return Objective(metric, direction, (metric,))


def parse_slo(spec: Mapping | None, path: str = "slo") -> SLO:
    """The shortcuts (latency.p50/p90/p99, ttft, tpot) and SLOs on any other metric by its name."""
    if not spec:
        return SLO()
    terms = []
    for stat, body in (spec.get("latency") or {}).items():
        terms.append(_term(f"latency.{stat}", f"{stat}_e2e_latency", body, "minimize"))
    for key, body in spec.items():
        if key in SLO_SHORTCUTS:
            terms.append(_term(key, SLO_SHORTCUTS[key], body, "minimize"))
        elif key not in SLO_KEYS:
            direction = body.get("direction") or ("maximize" if key in FLOORED else
                                                  "minimize" if key in CANONICAL_METRICS else None)
            if direction is None:
                raise SpecError(f"{path}.{key}", "an SLO on a metric by its name needs a direction: minimize (the "
                                                 "threshold is a ceiling) or maximize (a floor)"
                                + did_you_mean(key, [*SLO_SHORTCUTS, "latency", *CANONICAL_METRICS]))
            terms.append(_term(key, key, body, direction))
    return SLO(float(spec.get("steepness", DEFAULT_STEEPNESS)), tuple(terms))


def _term(key: str, metric: str, body: Mapping, direction: str) -> SLOTerm:
    return SLOTerm(key, metric, float(body["threshold"]), float(body.get("weight", 1.0)),
                   bool(body.get("hard_fail", False)), float(body.get("fail_ratio", DEFAULT_FAIL_RATIO)),
                   body.get("direction", direction))


def penalty(metrics: Mapping[str, float], slo: SLO) -> tuple[float, str | None]:
    """(P, reason the trial is infeasible or None) for one set of metrics."""
    total = 0.0
    for term in slo.terms:
        r = term.miss(metrics[term.metric])
        if term.hard_fail and r > term.fail_ratio:
            return total, (f"{term.describe_miss(metrics[term.metric])} misses the {term.key} SLO by {r:.0%} "
                           f"(> fail_ratio {term.fail_ratio:g})")
        if r > 0:
            total += term.weight * (math.exp(min(r / slo.steepness, MAX_EXPONENT)) - 1.0)
    return total, None


def score(value: float, direction: str, p: float) -> float:
    base = value if direction == "minimize" else -value
    return base + p * abs(base)


def reduce_batches(batches: Sequence[Mapping[str, Any]], slo: SLO) -> dict:
    """One run's metrics from its batches: drop the batches that hard-fail, average the rest (all if none passes)."""
    if len(batches) == 1:
        return dict(batches[0])
    passing = [b for b in batches if _checkable(b, slo) and penalty(b, slo)[1] is None]
    return _aggregate(passing or batches, _mean)


def evaluate(runs: Sequence[Sequence[Mapping[str, Any]]], objective: Objective | Sequence[Objective], slo: SLO,
             sources: Sequence[str] = ()) -> Outcome:
    """Score a trial from its runs (each a list of metric batches): median per metric over runs, then SLOs.
    With several objectives `value` and `score` are lists, one per objective: a hard SLO missed makes the
    trial infeasible, and the soft penalty weighs on every score alike.
    `sources` says where each run's metrics were read from, for the message when one is missing."""
    objectives = as_tuple(objective)
    reduced = [reduce_batches(batches, slo) for batches in runs]
    for i, run in enumerate(reduced):
        problem = missing_metric(run, objectives, slo)
        if problem:
            where = f"run {i + 1}: " if len(reduced) > 1 else ""
            if "missing" in problem:
                problem += f"; {_reported(run)}" + (f", read from {sources[i]}" if i < len(sources) else "")
            return Outcome("failed", _aggregate(reduced, statistics.median), reduced, error=where + problem)
    metrics = _aggregate(reduced, statistics.median)
    values = [o.value(metrics)[1] for o in objectives]
    p, infeasible = penalty(metrics, slo)
    if infeasible:
        return Outcome("infeasible", metrics, reduced, value=_one(values), error=infeasible)
    scores = [score(v, o.direction, p) for v, o in zip(values, objectives)]
    return Outcome("completed", metrics, reduced, value=_one(values), score=_one(scores))


def as_tuple(objective: Objective | Sequence[Objective]) -> tuple:
    return (objective,) if isinstance(objective, Objective) else tuple(objective)


def _one(values: list) -> Any:
    """One objective's value as a number, several as a list."""
    return values[0] if len(values) == 1 else values


def missing_metric(metrics: Mapping[str, Any], objective: Objective | Sequence[Objective], slo: SLO) -> str | None:
    found = []
    for one in as_tuple(objective):
        name, value = one.value(metrics)
        if name is None:
            wanted = " or ".join(one.candidates)
            return f"objective metric {wanted} is missing from the trial's metrics"
        found.append((name, value))
    for metric, v in found + [(t.metric, metrics.get(t.metric)) for t in slo.terms]:
        if v is None:
            return f"SLO metric {metric} is missing from the trial's metrics"
        if not _finite(v):
            return f"metric {metric} is not a finite number ({v!r})"
    return None


def _reported(metrics: Mapping[str, Any], shown: int = 6) -> str:
    names = list(metrics)
    if not names:
        return "the trial reported no metrics"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"the trial reported {', '.join(names[:shown])}{more}"


def _checkable(metrics: Mapping[str, Any], slo: SLO) -> bool:
    return all(_finite(metrics.get(t.metric)) for t in slo.terms)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mean(values: list) -> float:
    return sum(values) / len(values)


def _aggregate(dicts: Sequence[Mapping[str, Any]], how) -> dict:
    """Per key, `how` over the finite numbers present; a key with none keeps its first value (NaN, inf)."""
    out: dict = {}
    for d in dicts:
        for key, value in d.items():
            out.setdefault(key, []).append(value)
    result = {}
    for key, values in out.items():
        finite = [v for v in values if _finite(v)]
        result[key] = how(finite) if finite else values[0]
    return result


def run_values(runs: Sequence[Mapping[str, Any]], objective: Objective) -> list:
    """The objective's value in each run that measured it."""
    return [v for v in (objective.value(r)[1] for r in runs) if _finite(v)]


def run_score(metrics: Mapping[str, Any], objective: Objective | Sequence[Objective], slo: SLO) -> Any:
    """One run's score (a list with several objectives), SLOs applied to that run's own metrics; infinity
    when it misses a hard SLO or lacks a metric the score needs (so a run like that is worse than any other)."""
    objectives = as_tuple(objective)
    p, infeasible = (0.0, "missing") if missing_metric(metrics, objectives, slo) else penalty(metrics, slo)
    return _one([math.inf if infeasible else score(o.value(metrics)[1], o.direction, p) for o in objectives])


def score_report(values: Mapping[str, Any], objective: Objective, slo: SLO) -> float | None:
    """A progress report's score, like a result's: the objective's value with the penalties of the SLO
    metrics the report holds; None when it holds no finite objective value."""
    _, value = objective.value(values)
    if not _finite(value):
        return None
    held = SLO(slo.steepness, tuple(t for t in slo.terms if _finite(values.get(t.metric))))
    p, _ = penalty(values, held)
    return score(value, objective.direction, p)


def report_objective(objective: Objective, metric: str | None) -> Objective | None:
    """What progress reports are scored on when early stopping names another `metric` than the objective's
    (reports often call the loss something else): that metric, or a shortcut's, in the objective's direction.
    None: the objective itself."""
    if metric is None or metric == objective.metric:
        return None
    return parse_objective({"metric": metric, "direction": objective.direction}, "early_stopping.metric")
