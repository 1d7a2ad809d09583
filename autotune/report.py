"""Reports of a study, built from its checkpoint: table (rich), json, markdown, csv, html, junit; and the best params."""
from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from .errors import AutotuneError, InputError
from .html_report import render_html
from .junit import render_junit
from .objective import Objective, parse_objective, run_values
from .progress import format_number
from .records import Status, ranked
from .storage import dumps
from .study import Study

FORMATS = ("table", "json", "markdown", "csv", "html", "junit")
BEST_FORMATS = ("yaml", "json", "args")
TRIAL_KEYS = ("id", "params", "status", "value", "score", "metrics", "runs", "error", "duration_s", "step", "gpus")
MAX_ERROR_CELL = 60


def build_report(study_dir: str | Path, top: int | None = None) -> dict:
    """DESIGN.md's report: trials in id order, or the `top` best (lowest score first)."""
    study = Study.load(study_dir)
    trials = [{**{key: t.get(key) for key in TRIAL_KEYS}, "intermediate": _intermediate(t)} for t in study.trials]
    if top is not None:
        trials = ranked(trials)[:top]
    stats = {"total": len(study.trials)}
    for status in (Status.COMPLETED, Status.FAILED, Status.INFEASIBLE, Status.PRUNED):
        stats[str(status)] = study.trials.counts[status]
    stats["elapsed_s"] = study.state.get("elapsed_s", 0.0)
    baseline_id = study.state.get("baseline_id")
    return {
        "study": {"name": study.name, "dir": str(study.dir), "status": str(study.status),
                  "strategy": study.strategy.describe(), "objective": study.state["objective"]},
        "best": _summary(study.trials.best),
        "baseline": _summary(study.trials[baseline_id] if baseline_id in study.trials else None),
        "trials": trials,
        "finalists": [{key: f[key] for key in ("trial_id", "params", "value", "runs")} for f in study.finalists],
        "verdict": study.state.get("verdict"),
        "stats": stats,
    }


def _intermediate(trial: dict) -> list[dict]:
    """The values a trial reported by step (early stopping), for curves: [{"step", "value"}, ...]."""
    return [{"step": step, "value": value} for step, value, _ in trial.get("curve") or []]


def _summary(trial: dict | None) -> dict | None:
    if trial is None:
        return None
    return {"trial_id": trial["id"], "params": trial["params"], "value": trial["value"], "score": trial["score"],
            "metrics": trial["metrics"]}


def render_report(report: dict, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise InputError(f"--format: unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](report)


def _param_names(report: dict) -> list[str]:
    names: list[str] = []
    for trial in report["trials"]:
        names.extend(n for n in trial["params"] if n not in names)
    return names


def _objective(report: dict) -> Objective:
    return parse_objective(dict(report["study"]["objective"]))


def _measured(value, runs: list, objective: Objective) -> str:
    """The value, with the range over runs when there were several: 12.3 (11.8-12.9)."""
    values = run_values(runs or [], objective)
    if len(values) < 2:
        return format_number(value)
    return f"{format_number(value)} ({format_number(min(values))}-{format_number(max(values))})"


def _rows(report: dict) -> tuple[list[str], list[list[str]]]:
    """The human table shared by table, markdown and html: one row per trial."""
    metric = report["study"]["objective"]["metric"]
    params = _param_names(report)
    objective = _objective(report)
    steps = any(t.get("step") is not None for t in report["trials"])  # the step each reached (early stopping)
    header = ["trial", "status", *(["step"] if steps else []), *params, metric, "score", "time (s)", "error"]
    rows = []
    for t in report["trials"]:
        error = (t["error"] or "")[:MAX_ERROR_CELL]
        rows.append([str(t["id"]), t["status"], *([format_number(t.get("step"))] if steps else []),
                     *(format_number(t["params"].get(p, "")) for p in params),
                     _measured(t["value"], t["runs"], objective), format_number(t["score"]),
                     format_number(t["duration_s"]), error])
    return header, rows


def _headline(report: dict) -> list[str]:
    study, stats, best = report["study"], report["stats"], report["best"]
    objective = study["objective"]
    lines = [f"Study {study['name']} ({study['status']}): {objective['direction']} {objective['metric']} "
             f"with {study['strategy']}; {stats['total']} trials, {stats['completed']} completed, "
             f"{stats['infeasible']} infeasible, {stats['failed']} failed, "
             + (f"{stats['pruned']} pruned, " if stats.get("pruned") else "") + f"{stats['elapsed_s']:.0f}s"]
    if best:
        params = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        lines.append(f"Best: trial {best['trial_id']}, {objective['metric']} {format_number(best['value'])} "
                     f"({params})")
    else:
        lines.append("Best: no feasible trial")
    baseline = report["baseline"]
    if best and baseline and baseline["value"]:
        change = (best["value"] - baseline["value"]) / abs(baseline["value"]) * 100
        lines.append(f"Best vs baseline (trial {baseline['trial_id']}): {change:+.1f}% {objective['metric']}")
    if report["finalists"]:
        parsed = _objective(report)
        measured = ", ".join(f"trial {f['trial_id']} {_measured(f['value'], f['runs'], parsed)}"
                             for f in report["finalists"])
        lines.append(f"Finalists: {measured}; verdict: {report['verdict'] or 'none'}")
    return lines


def render_table(report: dict) -> str:
    header, rows = _rows(report)
    headline = _headline(report)
    table = Table(*header, title=headline[0], caption="\n".join(headline[1:]))
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=max(100, 12 * len(header)), no_color=True).print(table)
    return buffer.getvalue()


def render_markdown(report: dict) -> str:
    header, rows = _rows(report)
    escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = [f"### autotune: {report['study']['name']}", "", *(f"{line}  " for line in _headline(report)), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_csv(report: dict) -> str:
    params = _param_names(report)
    metrics: list[str] = []
    for trial in report["trials"]:
        metrics.extend(m for m in (trial["metrics"] or {}) if m not in metrics)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "status", *params, "value", "score", "duration_s", "step", "error", *metrics])
    for t in report["trials"]:
        row = [t["id"], t["status"], *(t["params"].get(p, "") for p in params), t["value"], t["score"],
               t["duration_s"], t.get("step"), t["error"], *((t["metrics"] or {}).get(m) for m in metrics)]
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def render_json(report: dict) -> str:
    return dumps(report, indent=2) + "\n"


RENDERERS = {"table": render_table, "json": render_json, "markdown": render_markdown, "csv": render_csv,
             "html": render_html, "junit": render_junit}


def render_best(study_dir: str | Path, fmt: str) -> str:
    if fmt not in BEST_FORMATS:
        raise InputError(f"--format: unknown format {fmt!r}; use one of {', '.join(BEST_FORMATS)}")
    best = build_report(study_dir)["best"]
    if best is None:
        raise AutotuneError(f"{study_dir}: no feasible trial yet, so no best parameters")
    params = best["params"]
    if fmt == "json":
        return json.dumps(params, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(params, sort_keys=False)
    return " ".join(flag for name, value in params.items() for flag in _as_flags(name, value)) + "\n"


def _as_flags(name: str, value) -> list[str]:
    """`--name value`, underscores as dashes; booleans as --name / --no-name (argparse's BooleanOptionalAction,
    which vLLM and SGLang use)."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    return [flag, shlex.quote(str(value))]
