"""`autotune compare BASE NEW`: the CI gate between two studies of the same objective.

Each side is its best trial, measured over its runs: the finalists' re-measurements when the best trial
was a finalist, else the runs of the search (repeats). NEW regresses when its median is worse than BASE's
by more than the tolerance AND the two ranges over runs do not overlap: a difference smaller than the
tolerance, or one the noise of the measurements covers, does not fail a build. Every metric is shown.
"""
from __future__ import annotations

import io
import re
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .errors import InputError
from .report import build_report
from .report_data import Goal, finalists, format_params, format_value, goals, metric_ranges, number, trials
from .storage import dumps

FORMATS = ("table", "json", "markdown")
TOLERANCE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*")


def parse_tolerance(text: str) -> float:
    """'2%' (or '2') -> 0.02: how much worse NEW may be than BASE, relative to BASE."""
    match = TOLERANCE.fullmatch(str(text))
    if not match:
        raise InputError(f"--tolerance: expected a percentage such as 2% or 0.5%, got {text!r}")
    return float(match.group(1)) / 100


def compare_studies(base_dir: str | Path, new_dir: str | Path, tolerance: float) -> dict:
    """The comparison as a JSON-safe dict; `regression` says whether the gate fails."""
    base_report, new_report = build_report(base_dir), build_report(new_dir)
    goal, new_goal = _single_goal(base_report, base_dir), _single_goal(new_report, new_dir)
    if (goal.label, goal.direction) != (new_goal.label, new_goal.direction):
        raise InputError(f"{new_dir}: its objective ({new_goal.direction} {new_goal.label}) differs from "
                         f"{base_dir}'s ({goal.direction} {goal.label}); compare studies of the same objective")
    base = _side(base_report, goal)
    if base is None:
        raise InputError(f"{base_dir}: no feasible trial to compare against")
    new = _side(new_report, goal)
    result = {"objective": {"metric": goal.label, "direction": goal.direction}, "tolerance": tolerance,
              "base": {"dir": str(base_dir), **base}, "new": {"dir": str(new_dir), **(new or {})}}
    if new is None:
        return {**result, "verdict": "regression", "regression": True, "change": None, "overlap": False,
                "summary": f"regression: {new_dir} has no feasible trial, {base_dir}'s best has "
                           f"{goal.label} {_measured(base)}",
                "metrics": _metric_rows(base, {})}
    change = _relative(new["value"], base["value"])
    worse = change > 0 if goal.direction == "minimize" else change < 0
    overlap = new["min"] <= base["max"] and base["min"] <= new["max"]
    tol = f"{tolerance * 100:.4g}%"
    if abs(change) <= tolerance:
        verdict, why = "within tolerance", f"within the {tol} tolerance"
    elif overlap:
        verdict, why = "within noise", f"beyond the {tol} tolerance, but the ranges over runs overlap"
    else:
        verdict = "regression" if worse else "improvement"
        why = f"beyond the {tol} tolerance and outside the ranges over runs"
    summary = (f"{verdict}: {goal.label} {_measured(new)} in {new_dir} against {_measured(base)} in {base_dir}, "
               f"{abs(change):.1%} {'worse' if worse else 'better'}, {why}")
    return {**result, "verdict": verdict, "regression": verdict == "regression", "change": change,
            "overlap": overlap, "summary": summary, "metrics": _metric_rows(base, new)}


def _single_goal(report: dict, directory) -> Goal:
    found = goals(report)
    if len(found) > 1:
        raise InputError(f"{directory}: has {len(found)} objectives; compare gates a single objective")
    return found[0]


def _side(report: dict, goal: Goal) -> dict | None:
    """The best trial, over the runs that measured it best: its finalist re-measurements, else its search runs."""
    best = report.get("best")
    if not best:
        return None
    trial_id = best.get("trial_id")
    finalist = next((f for f in finalists(report) if f.get("trial_id") == trial_id and f.get("runs")), None)
    trial = next((t for t in trials(report) if t.get("id") == trial_id), {})
    runs = (finalist or {}).get("runs") or trial.get("runs") or [best.get("metrics") or {}]
    values = goal.run_values(runs) or [v for v in [number(best.get("value"))] if v is not None]
    if not values:
        return None
    ranges = metric_ranges(runs)
    return {"trial_id": trial_id, "params": best.get("params") or {}, "runs": len(runs),
            "measured_by": "finalist re-measurement" if finalist else "search",
            "value": statistics.median(values), "min": min(values), "max": max(values),
            "metrics": {name: {"median": m, "min": lo, "max": hi} for name, (m, lo, hi) in ranges.items()}}


def _relative(new: float, base: float) -> float:
    if base == 0:
        return 0.0 if new == 0 else float("inf") if new > 0 else float("-inf")
    return (new - base) / abs(base)


def _measured(side: dict) -> str:
    spread = f" ({format_value(side['min'])}-{format_value(side['max'])})" if side["min"] != side["max"] else ""
    return format_value(side["value"]) + spread


def _metric_rows(base: dict, new: dict) -> list[dict]:
    names = list(dict.fromkeys([*base["metrics"], *new.get("metrics", {})]))
    rows = []
    for name in names:
        b, n = base["metrics"].get(name), new.get("metrics", {}).get(name)
        change = _relative(n["median"], b["median"]) if b and n else None
        rows.append({"metric": name, "base": b, "new": n, "change": change})
    return rows


def render_comparison(result: dict, fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(f"--format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "json":
        return dumps(result, indent=2) + "\n"
    header, rows = _rows(result)
    if fmt == "markdown":
        mark = "❌" if result["regression"] else "✅"
        lines = [f"### autotune compare: {result['objective']['direction']} {result['objective']['metric']}", "",
                 f"{mark} **{result['verdict']}**: {result['summary'].split(': ', 1)[1]}", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    table = Table(*header, title=result["summary"])
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=140, no_color=True).print(table)
    return buffer.getvalue()


def _rows(result: dict) -> tuple[list[str], list[list[str]]]:
    base, new = result["base"], result["new"]

    def title(name, side):
        if "trial_id" not in side:
            return f"{name}: no feasible trial"
        return f"{name}: trial {side['trial_id']} ({side['runs']} runs, {side['measured_by']})"

    header = ["", title("BASE", base), title("NEW", new), "change"]
    rows = [["params", format_params(base["params"]), format_params(new.get("params")), ""]]
    rows.append([result["objective"]["metric"] + " (objective)", _measured(base),
                 _measured(new) if "value" in new else "-", _percent(result["change"])])
    for row in result["metrics"]:
        rows.append([row["metric"], _cell(row["base"]), _cell(row["new"]), _percent(row["change"])])
    return header, rows


def _cell(value: dict | None) -> str:
    if value is None:
        return "-"
    spread = f" ({format_value(value['min'])}-{format_value(value['max'])})" if value["min"] != value["max"] else ""
    return format_value(value["median"]) + spread


def _percent(change: float | None) -> str:
    return "-" if change is None else f"{change:+.1%}"
