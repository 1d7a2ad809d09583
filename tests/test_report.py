"""Reports in every format and the best parameters, from a real study."""
import csv
import io
import json
import shlex

import pytest

from conftest import assert_one_line_error, cli, fake_trial_task, write_task


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    task = fake_trial_task(parameters={"x": [0.1, 0.3, 0.9], "mode": ["ok", "exit3"], "use_cache": [True]})
    result = cli("run", write_task(tmp, task), "--study-dir", tmp / "study")
    assert result.exit_code == 0, result.stderr
    return tmp / "study"


def test_json_has_the_design_shape(study):
    result = cli("report", study, "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert set(report) == {"study", "best", "baseline", "trials", "finalists", "verdict", "verdict_reason", "noise",
                           "stats"}
    assert set(report["study"]) == {"name", "dir", "status", "strategy", "objective", "slo"}
    assert report["study"]["objective"] == {"metric": "loss", "direction": "minimize"}
    assert set(report["best"]) == {"trial_id", "params", "value", "score", "metrics", "runs", "remeasured"}
    assert report["best"]["params"]["x"] == 0.3 and report["best"]["params"]["mode"] == "ok"
    assert [t["id"] for t in report["trials"]] == list(range(6))
    for trial in report["trials"]:
        assert set(trial) == {"id", "params", "status", "value", "score", "metrics", "runs", "error", "duration_s",
                              "step", "gpus", "intermediate"}
    assert report["stats"]["total"] == 6 and report["stats"]["completed"] == 3 and report["stats"]["failed"] == 3
    failed = [t for t in report["trials"] if t["status"] == "failed"]
    assert all(t["score"] is None and "exit code 3" in t["error"] for t in failed)


def test_top_k_lists_the_best_first(study):
    report = json.loads(cli("report", study, "--format", "json", "--top", "2").stdout)
    assert [t["params"]["x"] for t in report["trials"]] == [0.3, 0.1]


def test_csv_has_one_row_per_trial(study):
    rows = list(csv.DictReader(io.StringIO(cli("report", study, "--format", "csv").stdout)))
    assert len(rows) == 6 and {"id", "status", "x", "mode", "value", "score", "loss"} <= set(rows[0])
    assert rows[0]["status"] == "completed" and float(rows[0]["loss"]) == float(rows[0]["value"])


def test_markdown_is_a_table_for_a_step_summary(study):
    text = cli("report", study, "--format", "markdown").stdout
    assert text.startswith("### autotune: fake")
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 6 and "Best: trial" in text


def test_table_and_html(study):
    table = cli("report", study).stdout
    assert "completed" in table and "exit code 3" in table
    html = cli("report", study, "--format", "html").stdout
    assert html.startswith("<!DOCTYPE html>") and html.count("<tr class=") == 6  # more in test_html_report.py


def test_output_file(study, tmp_path):
    out = tmp_path / "report.md"
    result = cli("report", study, "--format", "markdown", "--output", out)
    assert result.exit_code == 0 and result.stdout == "" and out.read_text().startswith("### autotune")


@pytest.mark.parametrize("command,fmt", [("report", "xml"), ("report", "pdf"), ("best", "bogus")])
def test_an_unknown_format_is_invalid_input(study, command, fmt):
    assert_one_line_error(cli(command, study, "--format", fmt), 2, "--format", fmt)


def test_ranges_over_runs_use_the_objective_statistic(tmp_path):
    """A p90 latency objective: the value and its range over repeats are the p90s, not the means."""
    runs = ("import json, os; p = os.path.join(os.environ['AUTOTUNE_TRIAL_DIR'], 'n');"
            "n = int(open(p).read()) if os.path.exists(p) else 0; open(p, 'w').write(str(n + 1));"
            "print(json.dumps({'mean_e2e_latency': 1.0, 'p90_e2e_latency': 2.0 + n / 100}))")
    task = fake_trial_task(command=["python", "-c", runs], parameters={"x": [1]}, repeats=3,
                           objective={"metric": "latency", "stat": "p90"})
    cli("run", write_task(tmp_path, task), "--study-dir", tmp_path / "s")
    report = json.loads(cli("report", tmp_path / "s", "--format", "json").stdout)
    assert report["study"]["objective"] == {"metric": "latency", "direction": "minimize", "stat": "p90"}
    [trial] = report["trials"]
    p90s = sorted(run["p90_e2e_latency"] for run in trial["runs"])
    assert trial["value"] == p90s[1] and p90s[0] < p90s[2]
    markdown = cli("report", tmp_path / "s", "--format", "markdown").stdout
    assert f"({p90s[0]:.6g}-{p90s[2]:.6g})" in markdown


def test_best_formats(study):
    assert json.loads(cli("best", study, "--format", "json").stdout) == {"x": 0.3, "mode": "ok", "use_cache": True}
    assert "x: 0.3" in cli("best", study).stdout
    args = shlex.split(cli("best", study, "--format", "args").stdout)
    assert args == ["--x", "0.3", "--mode", "ok", "--use-cache", "true"]  # as the trial's command received it


def test_best_without_a_feasible_trial(tmp_path):
    task = fake_trial_task(parameters={"mode": ["exit3"]})
    cli("run", write_task(tmp_path, task), "--study-dir", tmp_path / "s")
    result = cli("best", tmp_path / "s")
    assert result.exit_code == 1 and "no feasible trial" in result.stderr


def test_reasons_behind_scores_and_full_errors(tmp_path):
    """SLO metrics get columns; a score blown up by a missed SLO has the miss in words beside it; errors
    are whole in JSON and CSV and cut at a word boundary in tables; booleans read as the command got them."""
    code = ("import json, sys; ttft = float(sys.argv[1]);"
            "ttft > 15 and sys.exit('the server refused the request because the context window of 2048 tokens "
            "was exceeded by the prompt');"
            "print(json.dumps({'loss': 1.0, 'mean_ttft': ttft}))")
    task = fake_trial_task(command=["python", "-c", code, "{ttft}"], parameters={"ttft": [1.0, 9.2, 20.0],
                                                                                  "flag": [False]},
                           slo={"ttft": {"threshold": 2.0}})
    cli("run", write_task(tmp_path, task), "--study-dir", tmp_path / "s")
    report = json.loads(cli("report", tmp_path / "s", "--format", "json").stdout)
    missed = next(t for t in report["trials"] if t["params"]["ttft"] == 9.2)
    assert missed["score"] > 1e10  # the exponential penalty, kept as DESIGN defines it
    failed = next(t for t in report["trials"] if t["status"] == "failed")
    assert failed["error"].endswith("exceeded by the prompt")
    markdown = cli("report", tmp_path / "s", "--format", "markdown").stdout
    header = next(line for line in markdown.splitlines() if line.startswith("| trial"))
    assert "| mean_ttft |" in header and "SLO missed" in header
    row = next(line for line in markdown.splitlines() if line.startswith("| 1 |"))
    assert "mean_ttft 9.2 > 2 (4.6x)" in row
    cell = [c.strip() for c in next(line for line in markdown.splitlines() if line.startswith("| 2 |")).split("|")][-2]
    assert cell.endswith("\u2026") and failed["error"].startswith(cell[:-1]) and len(cell) <= 60
    assert cell[:-1] + " " in failed["error"] + " "  # cut between words
    rows = list(csv.DictReader(io.StringIO(cli("report", tmp_path / "s", "--format", "csv").stdout)))
    assert rows[2]["error"] == failed["error"] and {r["flag"] for r in rows} == {"false"}
