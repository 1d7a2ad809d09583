"""Reports of a study, built from its journal: table (rich), json, markdown, csv, html, junit; and the best params."""
from __future__ import annotations

import csv
import io
import json
import shlex
from dataclasses import asdict
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from .errors import AutotuneError, InputError
from .html_report import render_html
from .junit import render_junit
from .objective import Objective, SLOTerm, parse_objective, run_values
from .progress import format_number
from .records import Status, ranked
from .storage import dumps
from .templates import render_scalar
from .finalists import noise_notes
from .study import Study

FORMATS = ("table", "json", "markdown", "csv", "html", "junit")
BEST_FORMATS = ("yaml", "json", "args")
TRIAL_KEYS = ("id", "params", "status", "value", "score", "metrics", "runs", "error", "duration_s", "step", "gpus")
MAX_ERROR_CELL = 60


FINALIST_KEYS = ("trial_id", "params", "value", "runs", "status", "score", "search_value", "error")


def build_report(study_dir: str | Path, top: int | None = None) -> dict:
    """DESIGN.md's report: trials in id order, or the `top` best (lowest score first). `best` is the
    study's answer: the finalist the re-measurement picked, when there are finalists."""
    study = Study.load(study_dir)
    trials = [{key: t.get(key) for key in TRIAL_KEYS} for t in study.trials]
    if top is not None:
        trials = ranked(trials)[:top]
    stats = {"total": len(study.trials)}
    for status in (Status.COMPLETED, Status.FAILED, Status.INFEASIBLE, Status.PRUNED):
        stats[str(status)] = study.trials.counts[status]
    stats["elapsed_s"] = study.state.get("elapsed_s", 0.0)
    return {
        "study": {"name": study.name, "dir": str(study.dir), "status": str(study.status),
                  "strategy": study.strategy.describe(), "objective": study.state["objective"],
                  "slo": [asdict(term) for term in study.task.slo.terms]},
        "best": _summary(study.answer()),
        "baseline": _baseline(study),
        "trials": trials,
        "finalists": [{key: f.get(key) for key in FINALIST_KEYS} for f in study.finalists],
        "verdict": study.state.get("verdict"),
        "verdict_reason": study.state.get("verdict_reason"),
        "noise": noise_notes(study),
        "stats": stats,
    }


def _summary(found: dict | None) -> dict | None:
    if found is None:
        return None
    return {key: found[key] for key in ("trial_id", "params", "value", "score", "metrics", "runs", "remeasured")}


def _baseline(study: Study) -> dict | None:
    """The baseline trial, with its re-measured value and runs when the finalists measured it again."""
    trial_id = study.state.get("baseline_id")
    if trial_id not in study.trials:
        return None
    again = next((f for f in study.finalists if f["trial_id"] == trial_id and f["status"] == "completed"), None)
    source = again or {"trial_id": trial_id, **study.trials[trial_id]}
    return {"trial_id": trial_id, "params": source["params"], "value": source["value"], "score": source["score"],
            "metrics": source["metrics"], "runs": source["runs"], "remeasured": again is not None}


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


def _slo_terms(report: dict) -> list[SLOTerm]:
    return [SLOTerm(**term) for term in report["study"].get("slo") or []]


def slo_misses(trial: dict, terms: list[SLOTerm]) -> str:
    """Why a score is large, in words: each SLO the trial's metrics miss, by how much."""
    metrics = trial.get("metrics") or {}
    misses = [t.describe_miss(metrics[t.metric]) for t in terms
              if isinstance(metrics.get(t.metric), (int, float)) and t.miss(metrics[t.metric]) > 0]
    return "; ".join(misses)


def cut(text: str | None, limit: int = MAX_ERROR_CELL) -> str:
    """At most `limit` characters, cut at a word boundary."""
    text = text or ""
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    return (head[:head.rfind(" ")] if " " in head else head).rstrip(" ,;:") + "\u2026"


def _rows(report: dict) -> tuple[list[str], list[list[str]]]:
    """The human table shared by table and markdown: one row per trial, with the objective's metric, each
    SLO's metric and the SLOs missed beside the score, so a large score has its reason next to it."""
    metric = report["study"]["objective"]["metric"]
    params = _param_names(report)
    objective = _objective(report)
    terms = _slo_terms(report)
    slo_metrics = list(dict.fromkeys(t.metric for t in terms))
    header = ["trial", "status", *params, metric, *slo_metrics, "score", *(["SLO missed"] if terms else []),
              "time (s)", "error"]
    rows = []
    for t in report["trials"]:
        slo_cells = [format_number((t["metrics"] or {}).get(m)) for m in slo_metrics]
        rows.append([str(t["id"]), str(t["status"]), *(format_number(t["params"].get(p, "")) for p in params),
                     _measured(t["value"], t["runs"], objective), *slo_cells, format_number(t["score"]),
                     *([slo_misses(t, terms)] if terms else []), format_number(t["duration_s"]), cut(t["error"])])
    return header, rows


def _headline(report: dict) -> list[str]:
    study, stats, best = report["study"], report["stats"], report["best"]
    objective = study["objective"]
    parsed = _objective(report)
    lines = [f"Study {study['name']} ({study['status']}): {objective['direction']} {objective['metric']} "
             f"with {study['strategy']}; {stats['total']} trials, {stats['completed']} completed, "
             f"{stats['infeasible']} infeasible, {stats['failed']} failed, {stats['elapsed_s']:.0f}s"]
    if best:
        params = ", ".join(f"{k}={format_number(v)}" for k, v in best["params"].items())
        how = ", re-measured" if best.get("remeasured") else ""
        lines.append(f"Best: trial {best['trial_id']}, {objective['metric']} "
                     f"{_measured(best['value'], best.get('runs'), parsed)}{how} ({params})")
    else:
        lines.append("Best: no feasible trial" + (" held up when measured again" if report["finalists"] else ""))
    baseline = report["baseline"]
    if best and baseline and baseline["value"] and best["trial_id"] != baseline["trial_id"]:
        change = (best["value"] - baseline["value"]) / abs(baseline["value"]) * 100
        both = " (both re-measured)" if best.get("remeasured") and baseline.get("remeasured") else ""
        lines.append(f"Best vs baseline (trial {baseline['trial_id']}): {change:+.1f}% {objective['metric']}{both}; "
                     f"baseline {_measured(baseline['value'], baseline.get('runs'), parsed)}")
    if report["finalists"]:
        measured = ", ".join(f"trial {f['trial_id']} {format_number(f.get('search_value'))} in the search, "
                             f"{_measured(f['value'], f['runs'], parsed)} re-measured" for f in report["finalists"])
        lines.append(f"Finalists: {measured}")
        lines.append(f"Verdict: {report.get('verdict_reason') or report['verdict'] or 'none'}")
    lines += [f"Noise: {note}" for note in report.get("noise") or []]
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
    writer.writerow(["id", "status", *params, "value", "score", "duration_s", "error", *metrics])
    for t in report["trials"]:
        row = [t["id"], t["status"], *(t["params"].get(p, "") for p in params), t["value"], t["score"],
               t["duration_s"], t["error"], *((t["metrics"] or {}).get(m) for m in metrics)]
        writer.writerow(["" if v is None else render_scalar(v) if isinstance(v, bool) else v for v in row])
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
    """`--name value`, underscores as dashes; a value exactly as the trial's command received it (booleans
    as true/false)."""
    return ["--" + name.replace("_", "-"), shlex.quote(render_scalar(value))]
