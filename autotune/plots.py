"""The html report's plots, as Plotly figure dicts built from DESIGN's report dict.

Plain dicts (Plotly's JSON figure format) keep this module free of the optional plotly package; the page
hands them to plotly, which validates and draws them. Only SVG trace types are used, plus parcoords
(WebGL), so the page draws in any browser, headless ones included. Each builder returns None when the
report has nothing to show for it (no completed trial, no repeats, one objective...).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from .importance import METHOD, importance
from .report_data import (Goal, baseline_id, best_id, finalists, format_value, front_ids, goals, number, param_names,
                          trials)

STATUS_STYLE = {  # colour and marker symbol per trial status
    "completed": ("#1f77b4", "circle"),
    "infeasible": ("#ff7f0e", "x"),
    "pruned": ("#7f7f7f", "triangle-down"),
    "failed": ("#d62728", "x"),
    "interrupted": ("#9467bd", "diamond-open"),
    "running": ("#17becf", "circle-open"),
}
BEST = {"color": "#f2b705", "symbol": "star", "size": 17, "line": {"color": "#5c4400", "width": 1}}
FINALIST_COLOR = "#e45756"
BAR_COLORS = ("#1f77b4", "#e45756", "#2ca02c")
MAX_SPREAD_TRIALS = 12   # boxes in the spread plot besides finalists and baseline
LOG_RATIO = 100.0        # a positive number spanning this factor or more gets a log axis


@dataclass
class Plot:
    id: str
    title: str
    note: str            # what the plot shows and how to read it
    figure: dict = field(repr=False)


def build_plots(report: dict) -> list[Plot]:
    """Every plot the report has data for, in the order the page shows them."""
    builders = (history, front, importance_plot, parallel, slices, spread, intermediate)
    return [plot for plot in (build(report) for build in builders) if plot is not None]


def _layout(**extra) -> dict:
    return {"template": "plotly_white", "margin": {"l": 70, "r": 30, "t": 30, "b": 60},
            "legend": {"orientation": "h", "y": -0.15}, "hovermode": "closest", **extra}


def _hover(trial: dict, goal_list: list[Goal]) -> str:
    """Hover text; Plotly reads it as a little HTML, so what trials wrote is escaped."""
    lines = [f"trial {trial.get('id')} · {trial.get('status')}"]
    if trial.get("step") is not None:
        lines[0] += f" at step {trial['step']}"
    lines += [f"{k} = {format_value(v)}" for k, v in (trial.get("params") or {}).items()]
    lines += [f"{g.label}: {format_value(g.value(trial))}" for g in goal_list]
    if trial.get("error"):
        lines.append(str(trial["error"])[:120])
    return "<br>".join(html.escape(line) for line in lines)


def _hovertext(points: list[dict], goal_list: list[Goal]) -> dict:
    return {"text": [_hover(t, goal_list) for t in points], "hovertemplate": "%{text}<extra></extra>"}


def history(report: dict) -> Plot | None:
    """Each trial's value by trial number with the best so far; trials without a value on a strip below."""
    trial_list, goal_list = trials(report), goals(report)
    if not trial_list:
        return None
    best = best_id(report)
    marked = ({best} | front_ids(report)) - {None}
    without = [t for t in trial_list if goal_list[0].value(t) is None]
    strip = 0.1 if without else 0.0
    rows = len(goal_list)
    height = (1.0 - strip - (0.06 if strip else 0.0) - 0.06 * (rows - 1)) / rows
    strip_axis = f"y{rows + 1}"
    last_axis = strip_axis if strip else ("y" if rows == 1 else f"y{rows}")
    data, layout = [], _layout(height=260 + 200 * rows + (40 if strip else 0),
                               xaxis={"title": {"text": "trial"}, "anchor": last_axis})
    for i, goal in enumerate(goal_list):
        axis = "y" if i == 0 else f"y{i + 1}"
        bottom = 1.0 - (i + 1) * height - i * 0.06
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            "title": {"text": goal.axis}, "domain": [bottom, bottom + height],
            **_axis_type([goal.value(t) for t in trial_list if goal.value(t) is not None])}
        for status, (color, symbol) in STATUS_STYLE.items():
            points = [t for t in trial_list if t.get("status") == status and goal.value(t) is not None]
            if points:
                data.append({"type": "scatter", "mode": "markers", "name": status, "legendgroup": status,
                             "showlegend": i == 0, "x": [t.get("id") for t in points],
                             "y": [goal.value(t) for t in points], "yaxis": axis,
                             "marker": {"color": color, "symbol": symbol, "size": 9}, **_hovertext(points, goal_list)})
        if not goal.several:
            data += _best_so_far(trial_list, goal, axis)
        stars = [t for t in trial_list if t.get("id") in marked and goal.value(t) is not None]
        if stars:
            data.append({"type": "scatter", "mode": "markers", "name": "Pareto front" if goal.several else "best",
                         "legendgroup": "best", "showlegend": i == 0, "x": [t.get("id") for t in stars],
                         "y": [goal.value(t) for t in stars], "yaxis": axis, "marker": BEST,
                         **_hovertext(stars, goal_list)})
    baseline = next((t for t in trial_list if t.get("id") == baseline_id(report)), None)
    if baseline is not None and goal_list[0].value(baseline) is not None:
        ids = [t.get("id") for t in trial_list]
        data.append({"type": "scatter", "mode": "lines", "name": f"baseline (trial {baseline.get('id')})",
                     "x": [min(ids), max(ids)], "y": [goal_list[0].value(baseline)] * 2, "yaxis": "y",
                     "line": {"color": "#2ca02c", "dash": "dash", "width": 1.5}, "hoverinfo": "skip"})
    if strip:
        layout[f"yaxis{rows + 1}"] = {"domain": [0, strip], "type": "category", "showgrid": False,
                                      "fixedrange": True}
        for status in dict.fromkeys(t.get("status") for t in without):
            color, symbol = STATUS_STYLE.get(status, ("#333333", "circle"))
            points = [t for t in without if t.get("status") == status]
            data.append({"type": "scatter", "mode": "markers", "name": status, "legendgroup": status,
                         "showlegend": not any(d["name"] == status for d in data),
                         "x": [t.get("id") for t in points], "y": ["no value"] * len(points), "yaxis": strip_axis,
                         "marker": {"color": color, "symbol": symbol, "size": 9}, **_hovertext(points, goal_list)})
    for d in data:
        d["xaxis"] = "x"
    note = ("Each trial's measured value by trial number. Infeasible trials (an SLO missed beyond its "
            "fail_ratio) and pruned ones (stopped early) are marked; failed trials, which measured nothing, sit "
            "on the strip below. Hover a point for its parameters and error.")
    if not goal_list[0].several:
        note += " The line is the best so far: the value of the completed trial with the best score until then."
    return Plot("history", "Trials: value and best so far", note, {"data": data, "layout": layout})


def _best_so_far(trial_list: list[dict], goal: Goal, axis: str) -> list[dict]:
    xs, ys, best = [], [], None
    for t in trial_list:
        score = number(t.get("score"))
        if (t.get("status") == "completed" and score is not None and goal.value(t) is not None
                and (best is None or score < best[0])):
            best = (score, goal.value(t))
        if best is not None:
            xs.append(t.get("id"))
            ys.append(best[1])
    if not xs:
        return []
    return [{"type": "scatter", "mode": "lines", "name": "best so far", "x": xs, "y": ys, "yaxis": axis,
             "line": {"shape": "hv", "color": "#f2b705", "width": 2}, "hoverinfo": "skip"}]


def importance_plot(report: dict) -> Plot | None:
    """Bars of each parameter's share of the variance (one colour per objective)."""
    data = []
    for goal in goals(report):
        shares = importance_for(report, goal)
        known = {k: v for k, v in shares.items() if v is not None}
        if known:
            names = list(known)[::-1]
            data.append({"type": "bar", "orientation": "h", "name": goal.label, "y": names,
                         "marker": {"color": BAR_COLORS[goal.index % len(BAR_COLORS)]},
                         "x": [round(100 * known[n], 2) for n in names],
                         "text": [f"{100 * known[n]:.0f}%" for n in names], "textposition": "outside",
                         "hovertemplate": "%{y}: %{x:.1f}% of the variance<extra>" + goal.label + "</extra>"})
    if not data:
        return None
    count = len(data[0]["y"])
    layout = _layout(height=160 + 34 * count * len(data), barmode="group", showlegend=len(data) > 1,
                     xaxis={"title": {"text": "% of the objective's variance explained alone"}, "rangemode": "tozero"},
                     yaxis={"automargin": True})
    return Plot("importance", "Parameter importance", METHOD, {"data": data, "layout": layout})


def importance_for(report: dict, goal: Goal) -> dict[str, float | None]:
    """Importance of each parameter for one objective, over the report's completed trials."""
    done = [t for t in trials(report) if t.get("status") == "completed" and goal.value(t) is not None]
    return importance([t.get("params") or {} for t in done], [goal.value(t) for t in done],
                      param_names(trials(report)))


def _axis_values(values: list) -> tuple[list, dict]:
    """Values for a parcoords dimension and its tick settings: categories as indices, wide positive
    numbers as log10."""
    numbers = [number(v) for v in values]
    if all(n is not None for n in numbers):
        if min(numbers) > 0 and max(numbers) / min(numbers) >= LOG_RATIO:
            ticks = sorted({10 ** e for e in range(math.floor(math.log10(min(numbers))),
                                                   math.ceil(math.log10(max(numbers))) + 1)})
            return [math.log10(n) for n in numbers], {"tickvals": [math.log10(t) for t in ticks],
                                                      "ticktext": [format_value(t) for t in ticks]}
        return numbers, {}
    labels = ["inactive" if v is None else format_value(v).lower() if isinstance(v, bool) else format_value(v)
              for v in values]
    categories = sorted(set(labels))
    return [categories.index(label) for label in labels], {"tickvals": list(range(len(categories))),
                                                           "ticktext": categories}


def parallel(report: dict) -> Plot | None:
    """Parallel coordinates of the completed trials: one axis per parameter, the objective last."""
    goal = goals(report)[0]
    done = [t for t in trials(report) if t.get("status") == "completed" and goal.value(t) is not None]
    names = param_names(done)
    if len(done) < 2 or not names:
        return None
    dimensions = []
    for name in names:
        values, ticks = _axis_values([(t.get("params") or {}).get(name) for t in done])
        dimensions.append({"label": name, "values": values, **ticks})
    objective = [goal.value(t) for t in done]
    dimensions.append({"label": goal.label, "values": objective})
    line = {"color": objective, "colorscale": "Viridis", "reversescale": goal.direction == "minimize",
            "showscale": True, "colorbar": {"title": {"text": goal.label}}}
    figure = {"data": [{"type": "parcoords", "dimensions": dimensions, "line": line}],
              "layout": _layout(height=420, margin={"l": 70, "r": 70, "t": 60, "b": 40})}
    return Plot("parallel", "Parallel coordinates",
                f"Each line is a completed trial through its parameter values to its {goal.label}; the brighter, "
                "the better. Drag along an axis to keep only the lines that pass there.", figure)


def slices(report: dict) -> Plot | None:
    """The objective against each parameter, one panel per parameter."""
    goal_list = goals(report)
    goal = goal_list[0]
    trial_list = [t for t in trials(report) if goal.value(t) is not None
                  and t.get("status") in ("completed", "infeasible", "pruned")]
    names = param_names(trial_list)
    if not trial_list or not names:
        return None
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    layout = _layout(height=130 + 260 * rows, showlegend=True)
    data, best = [], best_id(report)
    for i, name in enumerate(names):
        suffix = "" if i == 0 else str(i + 1)
        row, col = divmod(i, cols)
        x0, y1 = col / cols + 0.03, 1 - row / rows
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + 1 / cols - 0.08], "anchor": f"y{suffix}",
                                    "title": {"text": name}, **_axis_type([(t.get("params") or {}).get(name)
                                                                           for t in trial_list])}
        layout[f"yaxis{suffix}"] = {"domain": [y1 - 1 / rows + 0.12, y1 - 0.02], "anchor": f"x{suffix}",
                                    "title": {"text": goal.label if col == 0 else ""},
                                    **_axis_type([goal.value(t) for t in trial_list])}
        for status in ("completed", "infeasible", "pruned"):
            points = [t for t in trial_list if t.get("status") == status and name in (t.get("params") or {})]
            if not points:
                continue
            color, symbol = STATUS_STYLE[status]
            marker = {"color": color, "symbol": symbol, "size": 8}
            if status == "completed":
                marker = {"color": [t.get("id") for t in points], "colorscale": "Blues", "cmin": 0, "size": 8,
                          "showscale": i == 0, "line": {"color": "#1f77b4", "width": 0.5},
                          "colorbar": {"title": {"text": "trial"}, "len": 0.5, "y": 1, "yanchor": "top"}}
            data.append({"type": "scatter", "mode": "markers", "name": status, "legendgroup": status,
                         "showlegend": i == 0, "x": [_category(t["params"][name]) for t in points],
                         "y": [goal.value(t) for t in points], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                         "marker": marker, **_hovertext(points, goal_list)})
        stars = [t for t in trial_list if t.get("id") == best and name in (t.get("params") or {})]
        if stars:
            data.append({"type": "scatter", "mode": "markers", "name": "best", "legendgroup": "best",
                         "showlegend": i == 0, "x": [_category(stars[0]["params"][name])],
                         "y": [goal.value(stars[0])], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                         "marker": BEST, **_hovertext(stars, goal_list)})
    return Plot("slices", f"{goal.label} against each parameter",
                "One panel per parameter: every measured trial at its value of that parameter (darker: later "
                "trials), to see where the good values lie and how flat or sharp the objective is there.",
                {"data": data, "layout": layout})


def _category(value):
    return format_value(value).lower() if isinstance(value, bool) else value


def _axis_type(values: list) -> dict:
    """A category axis for values that are not all numbers, a log axis for positive numbers spanning
    LOG_RATIO or more, else a linear one."""
    numbers = [number(v) for v in values if v is not None]
    if None in numbers:
        return {"type": "category"}
    if numbers and min(numbers) > 0 and max(numbers) / min(numbers) >= LOG_RATIO:
        return {"type": "log"}
    return {}


def spread(report: dict) -> Plot | None:
    """Box plots of each run's value: repeats in the search beside the finalists' re-measurements."""
    goal_list = goals(report)
    goal = goal_list[0]
    by_id = {t.get("id"): t for t in trials(report)}
    measured = {f.get("trial_id"): goal.run_values(f.get("runs")) for f in finalists(report)}
    measured = {k: v for k, v in measured.items() if v}
    repeated = sorted((t for t in by_id.values() if t.get("status") == "completed"
                       and len(goal.run_values(t.get("runs"))) > 1),
                      key=lambda t: number(t.get("score")) if number(t.get("score")) is not None else math.inf)
    if not measured and not repeated:
        return None
    shown = list(dict.fromkeys([*measured, baseline_id(report), *(t.get("id") for t in repeated[:MAX_SPREAD_TRIALS])]))
    shown = [i for i in shown if i in by_id and goal.run_values(by_id[i].get("runs"))]

    def label(trial_id):
        return f"trial {trial_id}" + (" (baseline)" if trial_id == baseline_id(report) else "")

    def boxes(name, color, series):
        xs = [label(i) for i, values in series for _ in values]
        ys = [v for _, values in series for v in values]
        return {"type": "box", "name": name, "x": xs, "y": ys, "boxpoints": "all", "jitter": 0.3, "pointpos": 0,
                "marker": {"color": color, "size": 6}, "line": {"color": color},
                "hovertemplate": "%{x}: %{y:.6g}<extra>" + name + "</extra>"}

    data = [boxes("search runs", STATUS_STYLE["completed"][0], [(i, goal.run_values(by_id[i].get("runs"))) for i in shown])]
    if measured:
        data.append(boxes("finalist re-measurements", FINALIST_COLOR, list(measured.items())))
    layout = _layout(height=420, boxmode="group", yaxis={"title": {"text": goal.axis}},
                     xaxis={"type": "category", "categoryorder": "array",
                            "categoryarray": [label(i) for i in dict.fromkeys([*measured, *shown])]})
    return Plot("spread", "Spread of repeats and finalists",
                "Every measured run of the finalists, the baseline and the best trials measured more than once: "
                "search runs beside the finalists' re-measurements. Boxes that overlap are within the noise of "
                "each other; a re-measured box far from its search runs means a lucky (or unlucky) measurement.",
                {"data": data, "layout": layout})


def intermediate(report: dict) -> Plot | None:
    """Each trial's reported values by step (early stopping): pruned trials end where they were stopped."""
    goal_list = goals(report)
    curves = [(t, [(p.get("step"), number(p.get("value"))) for p in t.get("intermediate") or []
                   if isinstance(p, dict)]) for t in trials(report)]
    curves = [(t, [(s, v) for s, v in points if isinstance(s, int) and v is not None]) for t, points in curves]
    curves = [(t, points) for t, points in curves if points]
    if not curves:
        return None
    best, data = best_id(report), []
    for trial, points in curves:
        status = trial.get("status")
        color = BEST["color"] if trial.get("id") == best else STATUS_STYLE.get(status, ("#333333", ""))[0]
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"trial {trial.get('id')} ({status})",
                     "legendgroup": status, "x": [s for s, _ in points], "y": [v for _, v in points],
                     "line": {"color": color, "width": 3 if trial.get("id") == best else 1.5,
                              "dash": "dot" if status == "pruned" else "solid"},
                     "marker": {"size": [5] * (len(points) - 1) + [11 if status == "pruned" else 5],
                                "symbol": [0] * (len(points) - 1) + ["x" if status == "pruned" else 0]},
                     "hovertemplate": f"trial {trial.get('id')} ({status})<br>step %{{x}}: %{{y:.6g}}<extra></extra>"})
    layout = _layout(height=440, showlegend=len(curves) <= 20, xaxis={"title": {"text": "step"}},
                     yaxis={"title": {"text": goal_list[0].axis}})
    return Plot("intermediate", "Intermediate values (early stopping)",
                "What each trial reported while it ran, by step. Dotted lines ending in a cross are trials the "
                "early-stopping scheduler stopped (pruned) at that step; the thick gold line is the best trial.",
                {"data": data, "layout": layout})


def front(report: dict) -> Plot | None:
    """The Pareto front with several objectives: every completed trial, the front's members highlighted."""
    goal_list = goals(report)
    if len(goal_list) < 2:
        return None
    members = front_ids(report)
    done = [t for t in trials(report) if t.get("status") in ("completed", "infeasible")
            and all(g.value(t) is not None for g in goal_list)]
    if not done:
        return None
    pairs = [(0, 1)] if len(goal_list) == 2 else [(0, 1), (0, 2), (1, 2)]
    layout = _layout(height=480 if len(pairs) == 1 else 420)
    data = []
    for k, (a, b) in enumerate(pairs):
        suffix = "" if k == 0 else str(k + 1)
        x0 = k / len(pairs)
        layout[f"xaxis{suffix}"] = {"domain": [x0 + 0.04, x0 + 1 / len(pairs) - 0.04], "anchor": f"y{suffix}",
                                    "title": {"text": goal_list[a].axis}}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "title": {"text": goal_list[b].axis}}
        groups = [("completed", [t for t in done if t.get("status") == "completed" and t.get("id") not in members],
                   {"color": "#9ecae1", "size": 8, "line": {"color": "#1f77b4", "width": 1}}),
                  ("infeasible", [t for t in done if t.get("status") == "infeasible"],
                   {"color": STATUS_STYLE["infeasible"][0], "symbol": "x", "size": 8}),
                  ("Pareto front", [t for t in done if t.get("id") in members], {**BEST, "color": FINALIST_COLOR})]
        for name, points, marker in groups:
            if points:
                data.append({"type": "scatter", "mode": "markers", "name": name, "legendgroup": name,
                             "showlegend": k == 0, "x": [goal_list[a].value(t) for t in points],
                             "y": [goal_list[b].value(t) for t in points], "xaxis": f"x{suffix}",
                             "yaxis": f"y{suffix}", "marker": marker, **_hovertext(points, goal_list)})
    return Plot("front", "Pareto front",
                "With several objectives there is no single best: the front (red stars) holds the completed trials "
                "that no other completed trial beats in every objective. Pick the trade-off you want among them.",
                {"data": data, "layout": layout})
