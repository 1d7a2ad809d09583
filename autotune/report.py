"""Reports of a study, built from its journal: table (rich), json, markdown, csv, html, junit; and the best params."""
from __future__ import annotations

import csv
import io
import json
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from .errors import AutotuneError, InputError
from .html_report import render_html
from .junit import render_junit
from .objective import SLOTerm
from .progress import format_number
from .records import Status, ranked
from .report_data import Goal, format_params, format_value, front_ids, goals
from .storage import dumps
from .templates import render_scalar
from .finalists import noise_notes
from .study import Study, found_entry

FORMATS = ("table", "json", "markdown", "csv", "html", "junit")
BEST_FORMATS = ("yaml", "json", "args")
TRIAL_KEYS = ("id", "params", "status", "value", "score", "metrics", "runs", "error", "duration_s", "step", "gpus")
MAX_ERROR_CELL = 60


FINALIST_KEYS = ("trial_id", "params", "value", "runs", "status", "score", "search_value", "error")


def build_report(study_dir: str | Path, top: int | None = None) -> dict:
    """DESIGN.md's report: trials in id order, or the `top` best (lowest score first). `best` is the
    study's answer: the finalist the re-measurement picked, when there are finalists. With several
    objectives `study.objectives` replaces `study.objective`, values and scores are lists, `best` is null
    and `front` lists the trial ids of the answer, the Pareto front."""
    study = Study.load(study_dir)
    trials = [{**{key: t.get(key) for key in TRIAL_KEYS}, "intermediate": _intermediate(t)} for t in study.trials]
    if top is not None:
        trials = ranked(trials)[:top]
    stats = {"total": len(study.trials)}
    for status in (Status.COMPLETED, Status.FAILED, Status.INFEASIBLE, Status.PRUNED):
        stats[str(status)] = study.trials.counts[status]
    stats["elapsed_s"] = study.state.get("elapsed_s", 0.0)
    aim = ({"objectives": study.state["objectives"]} if study.task.several
           else {"objective": study.state["objective"]})
    front = study.front()
    return {
        "study": {"name": study.name, "dir": str(study.dir), "status": str(study.status),
                  "strategy": study.strategy.describe(), **aim,
                  "slo": [asdict(term) for term in study.task.slo.terms]},
        "best": study.answer(),
        **({"front": [m["trial_id"] for m in front],
            "front_remeasured": study.front_remeasured()} if front is not None else {}),
        "baseline": _baseline(study),
        "trials": trials,
        "finalists": [{key: f.get(key) for key in FINALIST_KEYS} for f in study.finalists],
        "verdict": study.state.get("verdict"),
        "verdict_reason": study.state.get("verdict_reason"),
        "noise": noise_notes(study),
        "stats": stats,
    }


def _intermediate(trial: dict) -> list[dict]:
    """The values a trial reported by step (early stopping), for curves: [{"step", "value"}, ...]."""
    return [{"step": step, "value": value} for step, value, _ in trial.get("curve") or []]


def _baseline(study: Study) -> dict | None:
    """The baseline trial, with its re-measured value and runs when the finalists measured it again."""
    trial_id = study.state.get("baseline_id")
    if trial_id not in study.trials:
        return None
    again = next((f for f in study.finalists if f["trial_id"] == trial_id and f["status"] == "completed"), None)
    return found_entry(again or study.trials[trial_id], trial_id, remeasured=again is not None)


def render_report(report: dict, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise InputError(f"--format: unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](report)


def _param_names(report: dict) -> list[str]:
    names: list[str] = []
    for trial in report["trials"]:
        names.extend(n for n in trial["params"] if n not in names)
    return names


def _measured(value, runs: list, goal: Goal) -> str:
    """The value, with the range over runs when there were several: 12.3 (11.8-12.9)."""
    values = goal.run_values(runs)
    if len(values) < 2:
        return format_number(value)
    return f"{format_number(value)} ({format_number(min(values))}-{format_number(max(values))})"


def _nth(value, goal: Goal):
    """A value (or score) for one objective: the goal's element of a list with several."""
    return (value[goal.index] if goal.index < len(value) else None) if isinstance(value, list) else value


def _name(goal: Goal) -> str:
    """How a table names an objective: its metric as the task gives it; with several, with the stat."""
    return goal.label if goal.several else goal.objective.metric


def _values(entry: dict, goal_list: list[Goal]) -> str:
    """Each objective's value of a trial or finalist, with ranges over its runs: "throughput 120 (110-130)"."""
    return ", ".join(f"{_name(g)} {_measured(_nth(entry.get('value'), g), entry.get('runs'), g)}" for g in goal_list)


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
    """The human table shared by table and markdown: one row per trial, with the objectives' metrics, each
    SLO's metric and the SLOs missed beside the score, so a large score has its reason next to it. With
    several objectives the Pareto front's members come first, marked with a diamond."""
    goal_list = goals(report)
    params = _param_names(report)
    terms = _slo_terms(report)
    slo_metrics = list(dict.fromkeys(t.metric for t in terms))
    steps = any(t.get("step") is not None for t in report["trials"])  # the step each reached (early stopping)
    header = ["trial", "status", *(["step"] if steps else []), *params, *map(_name, goal_list), *slo_metrics,
              "score", *(["SLO missed"] if terms else []), "time (s)", "error"]
    front = front_ids(report)
    rows = []
    for t in sorted(report["trials"], key=lambda t: t["id"] not in front) if front else report["trials"]:
        slo_cells = [format_number((t["metrics"] or {}).get(m)) for m in slo_metrics]
        rows.append([f"{t['id']} \u25c6" if t["id"] in front else str(t["id"]), str(t["status"]),
                     *([format_number(t.get("step"))] if steps else []),
                     *(format_number(t["params"].get(p, "")) for p in params),
                     *(_measured(_nth(t["value"], g), t["runs"], g) for g in goal_list), *slo_cells,
                     format_value(t["score"]), *([slo_misses(t, terms)] if terms else []), format_number(t["duration_s"]),
                     cut(t["error"])])
    return header, rows


def _headline(report: dict) -> list[str]:
    study, stats, best = report["study"], report["stats"], report["best"]
    goal_list = goals(report)
    aims = " and ".join(f"{g.direction} {_name(g)}" for g in goal_list)
    lines = [f"Study {study['name']} ({study['status']}): {aims} "
             f"with {study['strategy']}; {stats['total']} trials, {stats['completed']} completed, "
             f"{stats['infeasible']} infeasible, {stats['failed']} failed, "
             + (f"{stats['pruned']} pruned, " if stats.get("pruned") else "") + f"{stats['elapsed_s']:.0f}s"]
    if "front" in report:
        lines += _front_lines(report, goal_list)
    elif best:
        params = format_params(best["params"])
        how = ", re-measured" if best.get("remeasured") else ""
        lines.append(f"Best: trial {best['trial_id']}, {_values(best, goal_list)}{how} ({params})")
    else:
        lines.append("Best: no feasible trial" + (" held up when measured again" if report["finalists"] else ""))
    baseline = report["baseline"]
    if best and baseline and baseline["value"] and best["trial_id"] != baseline["trial_id"]:
        change = (best["value"] - baseline["value"]) / abs(baseline["value"]) * 100
        both = " (both re-measured)" if best.get("remeasured") and baseline.get("remeasured") else ""
        lines.append(f"Best vs baseline (trial {baseline['trial_id']}): {change:+.1f}% {_name(goal_list[0])}{both}; "
                     f"baseline {_measured(baseline['value'], baseline.get('runs'), goal_list[0])}")
    elif best and baseline and best["trial_id"] == baseline["trial_id"]:
        lines.append(f"Best vs baseline (trial {baseline['trial_id']}): the baseline is the best found; "
                     "no configuration tried beat it")
    elif "front" in report and baseline and baseline["value"] is not None:
        how = ", re-measured" if baseline.get("remeasured") else ""
        lines.append(f"Baseline: trial {baseline['trial_id']}, {_values(baseline, goal_list)}{how}")
    if report["finalists"]:
        again = (lambda f: _values(f, goal_list)) if len(goal_list) > 1 else \
            (lambda f: _measured(f["value"], f["runs"], goal_list[0]))  # noqa: E731
        measured = ", ".join(f"trial {f['trial_id']} {format_value(f.get('search_value'))} in the search, "
                             f"{again(f)} re-measured" for f in report["finalists"])
        lines.append(f"Finalists: {measured}")
        lines.append(f"Verdict: {report.get('verdict_reason') or report['verdict'] or 'none'}")
    lines += [f"Noise: {note}" for note in report.get("noise") or []]
    return lines


def _front_lines(report: dict, goal_list: list[Goal]) -> list[str]:
    """The Pareto front, a line per member with its values (re-measured when the finalists decided it)."""
    if not report["front"]:
        return ["Pareto front: no feasible trial" + (" held up when measured again" if report["finalists"] else "")]
    members, decided = _front_members(report)
    lines = [f"Pareto front: {len(report['front'])} trials no other trial beats in every objective"
             + (", re-measured" if decided else "")]
    for entry in members:
        params = format_params(entry["params"])
        lines.append(f"  \u25c6 trial {entry['trial_id']}: {_values(entry, goal_list)} ({params})")
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
    goal_list = goals(report)
    if "front" in report:  # a value and a score column per objective, and whether the trial is on the front
        front = front_ids(report)
        aims = [f"value {g.label}" for g in goal_list] + [f"score {g.label}" for g in goal_list] + ["front"]
        cells = lambda t: ([_nth(t["value"], g) for g in goal_list] + [_nth(t["score"], g) for g in goal_list]  # noqa: E731
                           + [t["id"] in front])
    else:
        aims, cells = ["value", "score"], lambda t: [t["value"], t["score"]]  # noqa: E731
    writer.writerow(["id", "status", *params, *aims, "duration_s", "step", "error", *metrics])
    for t in report["trials"]:
        row = [t["id"], t["status"], *(t["params"].get(p, "") for p in params), *cells(t),
               t["duration_s"], t.get("step"), t["error"], *((t["metrics"] or {}).get(m) for m in metrics)]
        writer.writerow(["" if v is None else render_scalar(v) if isinstance(v, bool) else v for v in row])
    return buffer.getvalue()


def render_json(report: dict) -> str:
    """Indented, with one line per trial and finalist: as readable, and written by json's C encoder
    (`indent=` makes json fall back to its pure-Python one: a second for 10,000 trials)."""
    def member(value: Any) -> str:
        if isinstance(value, list) and value:
            return "[\n" + ",\n".join(f"    {dumps(item)}" for item in value) + "\n  ]"
        return dumps(value, indent=2).replace("\n", "\n  ")
    return "{\n" + ",\n".join(f"  {json.dumps(key)}: {member(value)}" for key, value in report.items()) + "\n}\n"


RENDERERS = {"table": render_table, "json": render_json, "markdown": render_markdown, "csv": render_csv,
             "html": render_html, "junit": render_junit}


def render_best(study_dir: str | Path, fmt: str, pick: str | None = None) -> str:
    """The best parameters; with several objectives the Pareto front (a member per entry, or line for
    args), or with `pick` its member best on that objective."""
    if fmt not in BEST_FORMATS:
        raise InputError(f"--format: unknown format {fmt!r}; use one of {', '.join(BEST_FORMATS)}")
    report = build_report(study_dir)
    if "front" not in report:
        if pick is not None:
            raise InputError(f"--pick: applies to a study with several objectives; {study_dir} has one, so "
                             "`autotune best` prints its best without it")
        if report["best"] is None:
            raise AutotuneError(f"{study_dir}: no feasible trial yet, so no best parameters")
        return _params_text(report["best"]["params"], fmt)
    members, _ = _front_members(report)
    if not members:
        raise AutotuneError(f"{study_dir}: no feasible trial yet, so no Pareto front")
    goal_list = goals(report)
    if pick is not None:
        goal = _goal_named(pick, goal_list)
        key = lambda m: (_nth(m["score"], goal), m["score"], m["trial_id"])  # noqa: E731 -- ties: the other scores, then id
        return _params_text(min(members, key=key)["params"], fmt)
    if fmt == "args":
        return "".join(" ".join(_flags(m["params"])) + f"  # trial {m['trial_id']}: {_values(m, goal_list)}\n"
                       for m in members)
    entries = [{"trial_id": m["trial_id"], **{g.label: _nth(m["value"], g) for g in goal_list}, "params": m["params"]}
               for m in members]
    return json.dumps(entries, indent=2) + "\n" if fmt == "json" else yaml.safe_dump(entries, sort_keys=False)


def _front_members(report: dict) -> tuple[list[dict], bool]:
    """The front's members as the answer has them, and whether re-measured: the finalists' entries when
    their re-measurement decided it (as the study says), else the trials' (those the report lists)."""
    decided = bool(report.get("front_remeasured"))
    source = ({f["trial_id"]: f for f in report["finalists"]} if decided
              else {t["id"]: {"trial_id": t["id"], **t} for t in report["trials"]})
    return [source[i] for i in report["front"] if i in source], decided


def _goal_named(name: str, goal_list: list[Goal]) -> Goal:
    """The objective `--pick` names: by its metric as the task gives it, its label, or a metric it reads."""
    for goal in goal_list:
        if name in (goal.objective.metric, goal.label, goal.label.replace(" ", "_")) or name in goal.objective.candidates:
            return goal
    raise InputError(f"--pick: {name!r} is not one of the study's objectives; use one of "
                     f"{', '.join(g.label for g in goal_list)}")


def _params_text(params: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(params, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(params, sort_keys=False)
    return " ".join(_flags(params)) + "\n"


def _flags(params: dict) -> list[str]:
    return [flag for name, value in params.items() for flag in _as_flags(name, value)]


def _as_flags(name: str, value) -> list[str]:
    """`--name value`, underscores as dashes; a value exactly as the trial's command received it (booleans
    as true/false)."""
    return ["--" + name.replace("_", "-"), shlex.quote(render_scalar(value))]
