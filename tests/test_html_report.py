"""The html report opened in real headless Chromium: no console errors, every plot drawn, nothing fetched
from the network, a screenshot saved in test-artifacts/ (git-ignored) beside the page itself."""
import copy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench_study import bench_task, report_json, run_study
from browser import Browser
from conftest import ROOT, cli, fake_trial_task, write_task

from autotune.importance import importance
from autotune.plots import importance_for
from autotune.report import render_report
from autotune.report_data import goals

ARTIFACTS = ROOT / "test-artifacts"
READY = ("document.readyState === 'complete' && Array.from(document.querySelectorAll('.plotly-graph-div'))"
         ".every(function (gd) { return !!gd._fullLayout; })")
# What the page shows once its scripts ran: each plot with its traces, the traces drawn (one SVG group each)
# and the marks in them, and the trials table. Clicking the score header sorts the table by it.
PROBE = """(function () {
  var plots = Array.from(document.querySelectorAll('.plotly-graph-div')).map(function (gd) {
    return {id: gd.id, svg: gd.querySelectorAll('svg.main-svg').length,
            traces: (gd._fullData || []).map(function (t) { return t.name || t.type; }),
            drawn: gd.querySelectorAll('g.trace, g.parcoords').length,
            marks: gd.querySelectorAll('path.point, path.js-line, path.box, g.point, g.parcoords g.tick').length,
            webgl: gd.querySelectorAll('canvas.gl-canvas').length};
  });
  var table = document.getElementById('trials-table');
  var headers = Array.from(table.tHead.rows[0].cells).map(function (c) { return c.textContent; });
  var column = headers.indexOf('score');
  table.tHead.rows[0].cells[column].click();
  var scores = Array.from(table.tBodies[0].rows).map(function (r) { return r.cells[column].textContent; });
  return {plots: plots, headers: headers, sortedScores: scores,
          best: Array.from(table.querySelectorAll('tr.best')).map(function (r) { return r.dataset.id; }),
          front: Array.from(table.querySelectorAll('tr.front')).map(function (r) { return r.dataset.id; }),
          statuses: Array.from(table.tBodies[0].rows).map(function (r) { return r.dataset.status; }),
          text: document.body.innerText};
})()"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A serving-shaped study: 10 trials in a grid with repeats, a baseline and finalists; 8 threads miss the
    latency SLO beyond its fail_ratio (infeasible) and 16 run out of memory (failed)."""
    task = bench_task(noise=0.03, repeats=2, parameters={"threads": [1, 2, 4, 8, 16], "sched": ["fcfs", "lpm"]},
                      slo={"latency": {"p90": {"threshold": 2.0, "hard_fail": True, "fail_ratio": 0.5}},
                           "ttft": {"threshold": 0.2}},
                      baseline={"threads": 1, "sched": "fcfs"}, finalists={"top_k": 2, "repeats": 3})
    return run_study(tmp_path_factory.mktemp("html"), task)


@pytest.fixture(scope="module")
def browser():
    with Browser() as chromium:
        yield chromium


def check_page(browser: Browser, page: Path, name: str) -> dict:
    """Open the page in Chromium; assert what holds for every report; what the page showed."""
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    result = browser.open_page(page, PROBE, READY, screenshot=shot)
    assert result.errors == [], result.errors
    assert result.requests == [page.resolve().as_uri()], result.requests  # nothing but the file: offline
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for plot in result.probe["plots"]:
        assert plot["svg"] >= 1 and plot["traces"] and plot["drawn"] == len(plot["traces"]) and plot["marks"] > 0, plot
    scores = [float(s.split(",")[0]) for s in result.probe["sortedScores"] if s != "-"]  # several: by the first
    assert scores == sorted(scores) and result.probe["sortedScores"][len(scores):] == \
        ["-"] * (len(result.probe["sortedScores"]) - len(scores))
    return result.probe


def save(name: str, text: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{name}.html"
    page.write_text(text)
    return page


def plots_of(probe: dict) -> dict:
    return {p["id"]: p for p in probe["plots"]}


def test_study_page_in_chromium(study, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    result = cli("report", study, "--format", "html", "--output", ARTIFACTS / "study.html")
    assert result.exit_code == 0, result.stderr
    report = report_json(study)
    probe = check_page(browser, ARTIFACTS / "study.html", "study")
    plots = plots_of(probe)
    assert set(plots) == {"history", "importance", "parallel", "slices", "spread"}
    assert {"completed", "infeasible", "failed", "best so far", "best"} <= set(plots["history"]["traces"])
    assert plots["parallel"]["webgl"] > 0
    assert {"search runs", "finalist re-measurements"} == set(plots["spread"]["traces"])
    assert probe["best"] == [str(report["best"]["trial_id"])]
    assert {"p90_e2e_latency", "mean_ttft", "mean_tpot", "throughput", "score", "error"} <= set(probe["headers"])
    assert sorted(probe["statuses"]) == sorted(t["status"] for t in report["trials"])
    assert "out of memory with 16 threads" in probe["text"] and "misses the latency.p90 SLO" in probe["text"]
    assert "re-measured (range)" in probe["text"] and "Best vs baseline".upper() in probe["text"]


def failed_infeasible_pruned(report: dict) -> dict:
    """The real study's report as early stopping would leave it: the slowest completed trial pruned at step 2
    and every completed trial with the values it reported at steps 1-4 (the loop cannot prune yet)."""
    report = copy.deepcopy(report)
    completed = [t for t in report["trials"] if t["status"] == "completed" and t["id"] != report["best"]["trial_id"]]
    slowest = min(completed, key=lambda t: t["value"])
    for trial in report["trials"]:
        if trial["status"] == "completed":
            last = 2 if trial is slowest else 4
            trial["intermediate"] = [{"step": s, "value": trial["value"] * (1 - 0.4 / s)} for s in range(1, last + 1)]
            trial["step"] = last
    slowest.update(status="pruned", score=slowest["score"], step=2, value=slowest["intermediate"][-1]["value"])
    report["stats"]["completed"] -= 1
    report["stats"]["pruned"] = 1
    return report


def test_failed_infeasible_and_pruned_in_chromium(study, browser):
    report = failed_infeasible_pruned(report_json(study))
    probe = check_page(browser, save("failed-infeasible-pruned", render_report(report, "html")),
                       "failed-infeasible-pruned")
    plots = plots_of(probe)
    assert {"history", "importance", "parallel", "slices", "spread", "intermediate"} == set(plots)
    assert {"completed", "infeasible", "failed", "pruned"} <= set(plots["history"]["traces"])
    pruned = next(t for t in report["trials"] if t["status"] == "pruned")
    assert f"trial {pruned['id']} (pruned)" in plots["intermediate"]["traces"]
    assert {"pruned", "failed", "infeasible"} <= set(probe["statuses"]) and "step" in probe["headers"]


def test_pareto_front_in_chromium(study, browser):
    """Two objectives (throughput against p90 latency): the front is lpm at 1, 2 and 4 threads."""
    report = copy.deepcopy(report_json(study))
    report["study"]["objectives"] = [{"metric": "throughput", "direction": "maximize"},
                                     {"metric": "latency", "stat": "p90", "direction": "minimize"}]
    del report["study"]["objective"]
    done = [t for t in report["trials"] if t["status"] == "completed"]
    for trial in report["trials"]:
        trial["value"] = [trial["value"], trial["metrics"].get("p90_e2e_latency")] if trial["value"] else None
    report["front"] = [t["id"] for t in done
                       if not any(o["value"][0] >= t["value"][0] and o["value"][1] <= t["value"][1]
                                  and o["value"] != t["value"] for o in done)]
    report["best"] = None
    assert sorted((t["params"]["threads"], t["params"]["sched"]) for t in done if t["id"] in report["front"]) == \
        [(1, "lpm"), (2, "lpm"), (4, "lpm")]
    probe = check_page(browser, save("pareto-front", render_report(report, "html")), "pareto-front")
    plots = plots_of(probe)
    assert "front" in plots and "Pareto front" in plots["front"]["traces"]
    assert sorted(probe["front"]) == sorted(map(str, report["front"])) and probe["best"] == []
    assert {"throughput", "latency p90"} <= set(probe["headers"]) and "Pareto front".upper() in probe["text"]


def test_without_the_plot_extra_the_page_has_the_table_and_says_how(study, browser):
    """plotly made unimportable in a real `autotune report` process."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "no-plots.html"
    code = ("import sys; sys.modules['plotly'] = None; sys.argv = ['autotune'] + sys.argv[1:];"
            "from autotune.cli import main; main()")
    run = subprocess.run([sys.executable, "-c", code, "report", str(study), "--format", "html", "--output", str(page)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    text = page.read_text()
    assert "pip install &#x27;autotune[plot]&#x27;" in text and "Plotly" not in text and len(text) < 200_000
    probe = browser.open_page(page, PROBE, READY, screenshot=ARTIFACTS / "no-plots.png")
    assert probe.errors == [] and probe.probe["plots"] == []
    assert len(probe.probe["statuses"]) == len(report_json(study)["trials"])
    assert "threads" in probe.probe["text"].split("Parameter importance", 1)[1]


def test_importance_ranks_the_parameter_that_explains_the_variance_first(tmp_path):
    """fake_trial's loss is (x - 0.3)^2 + (z - 0.3)^2 + a small term: x spans [0, 1], z only [0.28, 0.32]."""
    task = fake_trial_task(parameters={"z": {"type": "float", "low": 0.28, "high": 0.32, "step": 0.02},
                                       "x": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.1}})
    assert cli("run", write_task(tmp_path, task), "--study-dir", tmp_path / "s").exit_code == 0
    report = report_json(tmp_path / "s")
    shares = importance_for(report, goals(report)[0])
    assert list(shares) == ["x", "z"] and shares["x"] > 0.9 and shares["z"] < 0.05, shares
    html = cli("report", tmp_path / "s", "--format", "html").stdout
    assert '<span class="importance">x 9' in html and "omega squared" in html


def test_importance_of_a_categorical_parameter():
    rows = [{"sched": s, "x": i / 30} for i, s in enumerate(["a", "b", "c"] * 10)]
    values = [{"a": 0.0, "b": 5.0, "c": 10.0}[r["sched"]] + r["x"] for r in rows]
    shares = importance(rows, values, ["x", "sched"])
    assert list(shares) == ["sched", "x"] and shares["sched"] > 0.95 and shares["x"] < 0.05
    assert importance(rows[:3], values[:3], ["x"]) == {}  # too few trials to say
    assert importance(rows, [1.0] * len(rows), ["x"]) == {}  # nothing varies


def test_the_browser_check_sees_errors_and_requests(browser, tmp_path):
    """The checks above can fail: a console error, an uncaught exception and a fetch are all reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'><script>"
                    "console.error('drawn wrong'); undefinedFunction();</script></body></html>")
    result = browser.open_page(page, "1", "document.readyState === 'complete'")
    assert any("drawn wrong" in e for e in result.errors) and any("undefinedFunction" in e for e in result.errors)
    assert "http://127.0.0.1:9/x.png" in result.requests


@pytest.mark.parametrize("report", [
    {"study": {"name": "empty"}, "trials": []},
    {"study": {"name": "sparse", "objective": {"metric": "loss", "direction": "minimize"}},
     "trials": [{"id": 0, "status": "running"},
                {"id": 1, "status": "completed", "value": 1.0, "score": 1.0, "params": {"x": 1, "flag": True}},
                {"id": 2, "status": "completed", "value": 3.0, "score": 3.0, "params": {"flag": False}},
                {"id": 3, "status": "failed", "value": None, "metrics": None, "runs": None, "params": None,
                 "error": "</script><script>alert(1)</script>"},
                {"id": 4, "status": "pruned", "value": 2.0, "step": 1, "intermediate": [{"step": 1, "value": 2.0}]}],
     "best": {"trial_id": 1, "value": 1.0}, "baseline": None, "finalists": None, "verdict": None, "stats": None},
])
def test_reports_missing_optional_fields_still_render(report):
    """Fields other engineers are still adding, or an older report left out, never break a renderer."""
    html = render_report(report, "html")
    assert report["study"]["name"] in html and html.count("<tr ") == len(report["trials"])
    assert "<script>alert" not in html  # what a trial wrote is text, never markup
    assert ET.fromstring(render_report(report, "junit").encode()).get("tests") == str(len(report["trials"]))
