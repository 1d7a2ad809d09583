"""`report --format html`: one self-contained page, a CI artifact that opens offline.

The plots use plotly, from the `[plot]` extra: its Python package ships plotly.js, so the page inlines it
and needs no network; it is interactive (hover for a trial's parameters, zoom, brushing on parallel
coordinates), draws SVG so headless browsers render it, and Optuna's plots are made with it, so users
know these plots. Without it the page still has the headline, the importance figures and the tables, and
says how to get the plots.
"""
from __future__ import annotations

import html
from importlib import import_module

from .importance import METHOD, MIN_TRIALS
from .plots import STATUS_STYLE, build_plots, importance_for
from .report_data import (Goal, baseline_id, best_id, finalists, format_params, format_value, front_ids, goals,
                          metric_names, number, param_names, trials)

PLOT_HINT = "pip install 'autotune[plot]'"
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
STATUSES = ("completed", "infeasible", "failed", "pruned")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2630;background:#f6f7f9}
main{max-width:1280px;margin:0 auto;padding:20px 28px 40px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 4px}
.sub{color:#5b6670;margin:0 0 16px}.sub code{font-size:12px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:12px;margin-bottom:18px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:12px 14px}
.card .k{color:#5b6670;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600;margin:2px 0}.card .d{color:#3d4852;font-size:13px;word-break:break-word}
.good{color:#1a7f37}.bad{color:#cf222e}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:14px 16px;margin-bottom:16px}
.note{color:#5b6670;margin:0 0 8px;font-size:13px}
.hint{background:#fff8c5;border-color:#d4a72c}.hint code{background:#fff;padding:1px 5px;border-radius:4px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;white-space:nowrap}
th,td{border-bottom:1px solid #e1e4e8;padding:4px 8px;text-align:right}
th{background:#f0f2f4;position:sticky;top:0;cursor:pointer;user-select:none}
th:hover{background:#e4e8ec}
td.t,th.t{text-align:left}td.err{text-align:left;white-space:normal;min-width:220px;max-width:420px;color:#6e3630}
tr:nth-child(even) td{background:#fafbfc}
tr.best td{background:#fff4c2;font-weight:600}tr.front td{background:#fde8e8}
.badge{display:inline-block;padding:0 7px;border-radius:9px;color:#fff;font-size:12px}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin:0 3px 0 8px}
th.metric{background:#eef3f8}
footer{color:#5b6670;font-size:12px;margin-top:20px}
"""

# Click a column header to sort by it (numbers by value, from data-v when the cell shows a range).
SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  Array.from(table.tHead.rows[0].cells).forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], up = th.dataset.dir !== 'asc';
      th.dataset.dir = up ? 'asc' : 'desc';
      var key = function (row) {
        var cell = row.cells[col], text = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
        var n = parseFloat(text);
        return isNaN(n) ? [1, text] : [0, n];
      };
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x[0] !== y[0]) return x[0] - y[0];
        return (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) * (up ? 1 : -1);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def render_html(report: dict) -> str:
    plotly = _plotly()
    goal_list = goals(report)
    parts = [_header(report, goal_list), _cards(report, goal_list)]
    if plotly is None:
        parts.append(f'<section class="hint" id="no-plots"><h2>Plots</h2><p>This page was made without the plot '
                     f'library. Install it with <code>{html.escape(PLOT_HINT)}</code> and run '
                     f'<code>autotune report DIR --format html</code> again to get the plots.</p></section>')
    plots = build_plots(report) if plotly else []
    for plot in plots:
        figure = _figure(plot, plotly[0])
        parts.append(_importance_section(report, goal_list, figure) if plot.id == "importance"
                     else _section(plot.id, plot.title, plot.note, figure))
    if not any(plot.id == "importance" for plot in plots):
        parts.append(_importance_section(report, goal_list))
    parts += [_finalists_table(report, goal_list), _trials_table(report, goal_list)]
    library = f"; plots by plotly.js, inlined (version {plotly[2]})" if plotly else ""
    footer = f"<footer>Made by autotune{library}. This file opens offline.</footer>"
    script = f"<script>{plotly[1]}</script>" if plotly else ""
    title = html.escape(f"autotune: {(report.get('study') or {}).get('name', 'study')}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
            f"<style>{CSS}</style>{script}</head>\n<body><main>\n" + "\n".join(p for p in parts if p) +
            f"\n{footer}</main><script>{SORT_JS}</script></body></html>\n")


def _plotly():
    """(plotly.io, plotly.js source, version) when the `[plot]` extra is installed, else None."""
    try:
        plotly = import_module("plotly")
        return import_module("plotly.io"), import_module("plotly.offline").get_plotlyjs(), plotly.__version__
    except ImportError:
        return None


def _figure(plot, pio) -> str:
    """The plot's div and the script that draws it (plotly validates the figure on the way)."""
    height = plot.figure["layout"].get("height", 450)
    return pio.to_html(plot.figure, include_plotlyjs=False, full_html=False, div_id=plot.id, config=PLOT_CONFIG,
                       default_width="100%", default_height=f"{height}px")


def _section(key: str, title: str, note: str, body: str) -> str:
    return (f'<section id="section-{key}"><h2>{html.escape(title)}</h2>'
            f'<p class="note">{html.escape(note)}</p>{body}</section>')


def _header(report: dict, goal_list: list[Goal]) -> str:
    study, stats = report.get("study") or {}, report.get("stats") or {}
    aims = " and ".join(f"{g.direction} {g.label}" for g in goal_list)
    elapsed = number(stats.get("elapsed_s"))
    line = (f"{study.get('status', 'unknown')} · {aims} · strategy {study.get('strategy', '?')} · "
            f"{stats.get('total', len(report.get('trials') or []))} trials"
            + (f" in {_duration(elapsed)}" if elapsed is not None else ""))
    return (f"<h1>autotune · {html.escape(str(study.get('name', 'study')))}</h1>"
            f'<p class="sub">{html.escape(line)}<br><code>{html.escape(str(study.get("dir", "")))}</code></p>')


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _card(key: str, value: str, detail: str = "", css: str = "") -> str:
    return (f'<div class="card"><div class="k">{html.escape(key)}</div><div class="v {css}">{html.escape(value)}</div>'
            f'<div class="d">{detail}</div></div>')


def _cards(report: dict, goal_list: list[Goal]) -> str:
    cards = []
    best, goal = report.get("best"), goal_list[0]
    if goal.several:
        members = sorted(front_ids(report))
        cards.append(_card("Pareto front", f"{len(members)} trials",
                           html.escape("trials " + ", ".join(map(str, members))) if members else "the report names none"))
    elif best:
        cards.append(_card(f"Best {goal.label}", format_value(number(best.get("value"))),
                           html.escape(f"trial {best.get('trial_id')}: {format_params(best.get('params'))}")))
    else:
        cards.append(_card(f"Best {goal.label}", "none", "no feasible trial", "bad"))
    baseline = report.get("baseline") or {}
    if best and number(best.get("value")) is not None and number(baseline.get("value")):
        change = (best["value"] - baseline["value"]) / abs(baseline["value"]) * 100
        better = (change > 0) == (goal.direction == "maximize")
        cards.append(_card("Best vs baseline", f"{change:+.1f}% {goal.label}",
                           html.escape(f"baseline trial {baseline.get('trial_id')}: {format_value(baseline['value'])}"),
                           "good" if better else "bad"))
    stats = report.get("stats") or {}
    counts = "".join(f'<span class="dot" style="background:{STATUS_STYLE[s][0]}"></span>{stats.get(s, 0)} {s}'
                     for s in STATUSES if stats.get(s))
    cards.append(_card("Trials", str(stats.get("total", len(report.get("trials") or []))), counts))
    if finalists(report):
        verdict = report.get("verdict") or "none"
        meaning = {"clear": "the winner beat every other finalist in every re-measured run",
                   "inconclusive": "the finalists' re-measured ranges overlap: they are within noise of each other"}
        cards.append(_card("Finalists' verdict", verdict, html.escape(meaning.get(verdict, "too few measured to judge")),
                           "good" if verdict == "clear" else ""))
    return f'<div class="cards">{"".join(cards)}</div>'


def _importance_section(report: dict, goal_list: list[Goal], figure: str = "") -> str:
    """The importance figures in words (they need no plot library), under the bar chart when there is one."""
    lines = []
    for goal in goal_list:
        shares = importance_for(report, goal)
        if shares:
            text = ", ".join(f"{name} {'n/a' if s is None else f'{100 * s:.0f}%'}" for name, s in shares.items())
        else:
            text = (f"needs at least {MIN_TRIALS} completed trials whose {goal.label} differs; "
                    f"this report has {sum(t.get('status') == 'completed' for t in trials(report))} completed")
        lines.append(f'<li><b>{html.escape(goal.label)}</b>: <span class="importance">{html.escape(text)}</span></li>')
    return _section("importance", "Parameter importance", f"How much each parameter matters, computed as {METHOD}.",
                    f'{figure}<ul>{"".join(lines)}</ul>')


def _range(values: list[float]) -> str:
    return f" ({format_value(min(values))}–{format_value(max(values))})" if len(values) > 1 else ""


def _finalists_table(report: dict, goal_list: list[Goal]) -> str:
    rows = finalists(report)
    if not rows:
        return ""
    goal, by_id = goal_list[0], {t.get("id"): t for t in trials(report)}
    body = []
    for f in rows:
        runs = goal.run_values(f.get("runs"))
        search = by_id.get(f.get("trial_id"), {})
        css = ' class="best"' if f.get("trial_id") == best_id(report) else ""
        body.append(f"<tr{css}><td>{html.escape(str(f.get('trial_id')))}</td>"
                    f'<td class="t">{html.escape(format_params(f.get("params")))}</td>'
                    f"<td>{html.escape(format_value(goal.value(search) if search else None))}</td>"
                    f"<td>{html.escape(format_value(number(f.get('value'))) + _range(runs))}</td><td>{len(runs)}</td></tr>")
    return (f'<section id="finalists"><h2>Finalists</h2><p class="note">The best trials of the search, measured '
            f'again; the verdict compares these re-measured runs.</p><div class="scroll"><table class="sortable">'
            f'<thead><tr><th>trial</th><th class="t">params</th><th>{html.escape(goal.label)} in the search</th>'
            f'<th>re-measured (range)</th><th>runs</th></tr></thead><tbody>{"".join(body)}</tbody></table></div></section>')


def _trials_table(report: dict, goal_list: list[Goal]) -> str:
    trial_list = report.get("trials") or []
    params = param_names(trial_list)
    labels = {g.label for g in goal_list}
    metrics = [m for m in metric_names(report) if m not in labels]
    extra = [key for key in ("step", "gpus") if any(t.get(key) is not None for t in trial_list)]
    best, front, baseline = best_id(report), front_ids(report), baseline_id(report)
    head = (["trial", "status", *extra, *params, *(g.label for g in goal_list), "score", "time (s)", "error"])
    header = "".join(f'<th class="{"t" if h in ("trial", "status", "error") else ""}">{html.escape(h)}</th>'
                     for h in head)
    header += "".join(f'<th class="metric">{html.escape(m)}</th>' for m in metrics)
    body = []
    for t in trial_list:
        tid = t.get("id")
        css = " ".join(c for c, on in (("best", tid == best), ("front", tid in front)) if on)
        mark = "★ " if tid == best else "◆ " if tid in front else ""
        label = f"{mark}{tid}" + (" baseline" if tid == baseline else "")
        status = str(t.get("status"))
        color = STATUS_STYLE.get(status, ("#57606a", ""))[0]
        cells = [f'<td class="t" data-v="{html.escape(str(tid))}">{html.escape(label)}</td>',
                 f'<td class="t"><span class="badge" style="background:{color}">{html.escape(status)}</span></td>']
        cells += [_cell(t.get(key)) for key in extra]
        cells += [_cell((t.get("params") or {}).get(p, "")) for p in params]
        for goal in goal_list:
            value = goal.value(t)
            cells.append(f'<td data-v="{value if value is not None else ""}">'
                         f"{html.escape(format_value(value) + _range(goal.run_values(t.get('runs'))))}</td>")
        cells += [_cell(t.get("score")), _cell(t.get("duration_s")),
                  f'<td class="err">{html.escape(str(t.get("error") or ""))}</td>']
        cells += [_cell((t.get("metrics") or {}).get(m)) for m in metrics]
        body.append(f'<tr class="{css}" data-status="{html.escape(status)}" data-id="{html.escape(str(tid))}">'
                    f'{"".join(cells)}</tr>')
    return (f'<section id="trials"><h2>Trials</h2><p class="note">★ best trial{", ◆ Pareto front" if front else ""}. '
            f"Values are medians over a trial's runs, with their range when it ran more than once; the shaded "
            f"columns are every metric measured, the SLOs' among the first. Click a header to sort.</p>"
            f'<div class="scroll"><table class="sortable" id="trials-table"><thead><tr>{header}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div></section>')


def _cell(value) -> str:
    return f"<td>{html.escape(format_value(value))}</td>"
