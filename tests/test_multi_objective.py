"""Several objectives through the real CLI: each trial scored per objective with SLOs applied, the Pareto
front as the answer in the report (json, table, markdown, csv, html in Chromium), `best` printing the
front and `--pick` one of its members, finalists re-measuring the front, resume, and the task checks."""
import copy
import csv
import io
import json
import math

import pytest
import yaml

import test_html_report as html_checks
from bench_study import bench_task, report_json
from browser import Browser
from conftest import ROOT, assert_one_line_error, cli, write_task

from autotune.finalists import judge_front
from autotune.task import load_task
from autotune.templates import render_argv
from autotune.objective import evaluate, parse_objective, parse_slo
from autotune.report import render_report

OBJECTIVES = ["throughput", {"metric": "latency", "stat": "p90"}]
# bench_trial: throughput 100 x (1 + 0.1 threads), 5% more with lpm; p90 latency 1 + 0.3 threads. 8 threads
# misses the hard p90 SLO by 70% (infeasible); 4 threads misses it by 10%: a soft penalty P = exp(0.1 / 1) - 1
# on both scores, small enough (steepness 1) to leave it on the front.
SLO = {"steepness": 1.0, "latency": {"p90": {"threshold": 2.0, "hard_fail": True, "fail_ratio": 0.5}}}
P = math.exp(0.1) - 1
PARAMETERS = {"threads": [1, 2, 4, 8], "sched": ["fcfs", "lpm"]}


def two_objective_task(**overrides):
    task = bench_task(repeats=1, parameters=PARAMETERS, slo=SLO, objectives=OBJECTIVES)
    del task["objective"]
    task.update(overrides)
    return task


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mo")
    result = cli("run", write_task(tmp, two_objective_task()), "--study-dir", tmp / "study")
    assert result.exit_code == 0, result.stderr
    assert "Pareto front: 3 trials" in result.stderr and "--pick throughput" in result.stderr
    return tmp / "study"


def trial_ids(report, threads_sched):
    return sorted(t["id"] for t in report["trials"] if (t["params"]["threads"], t["params"]["sched"]) in threads_sched)


FRONT = {(1, "lpm"), (2, "lpm"), (4, "lpm")}


def test_each_objective_is_scored_with_the_slos():
    objectives = tuple(parse_objective(o) for o in OBJECTIVES)
    slo = parse_slo(SLO)
    fine = evaluate([[{"mean_total_throughput": 120.0, "p90_e2e_latency": 1.5}]], objectives, slo)
    assert fine.status == "completed" and fine.value == [120.0, 1.5] and fine.score == [-120.0, 1.5]
    soft = evaluate([[{"mean_total_throughput": 140.0, "p90_e2e_latency": 2.2}]], objectives, slo)
    assert soft.score == pytest.approx([-140.0 + P * 140.0, 2.2 + P * 2.2])  # a 10% miss, on every score
    hard = evaluate([[{"mean_total_throughput": 180.0, "p90_e2e_latency": 3.4}]], objectives, slo)
    assert hard.status == "infeasible" and hard.score is None and hard.value == [180.0, 3.4]
    missing = evaluate([[{"mean_total_throughput": 180.0}]], objectives, slo)
    assert missing.status == "failed" and "p90_e2e_latency" in missing.error


def test_the_report_gives_the_front_and_no_best(study):
    report = report_json(study)
    assert report["best"] is None and "objective" not in report["study"]
    assert report["study"]["objectives"] == [{"metric": "throughput", "direction": "maximize"},
                                             {"metric": "latency", "direction": "minimize", "stat": "p90"}]
    assert report["front"] == trial_ids(report, FRONT) and report["front_remeasured"] is False
    for trial in report["trials"]:
        assert isinstance(trial["value"], list) and len(trial["value"]) == 2
        threads, lpm = trial["params"]["threads"], trial["params"]["sched"] == "lpm"
        assert trial["value"] == pytest.approx([100 * (1 + 0.1 * threads) * (1.05 if lpm else 1), 1 + 0.3 * threads])
        if threads == 8:
            assert trial["status"] == "infeasible" and trial["score"] is None
        elif threads == 4:  # the soft penalty on both scores
            assert trial["score"] == pytest.approx([-trial["value"][0] * (1 - P), trial["value"][1] * (1 + P)])
        else:
            assert trial["score"] == pytest.approx([-trial["value"][0], trial["value"][1]])


def test_best_prints_the_front_and_pick_one_member(study):
    report = report_json(study)
    listed = yaml.safe_load(cli("best", study).stdout)
    assert [m["trial_id"] for m in listed] == report["front"]
    assert all(set(m) == {"trial_id", "throughput", "latency p90", "params"} for m in listed)
    as_json = json.loads(cli("best", study, "--format", "json").stdout)
    assert as_json == listed
    lines = cli("best", study, "--format", "args").stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("--threads ") and "--sched lpm  # trial " in line for line in lines)
    for metric, threads in (("throughput", 4), ("latency", 1), ("p90_e2e_latency", 1), ("latency p90", 1)):
        picked = yaml.safe_load(cli("best", study, "--pick", metric).stdout)
        assert picked == {"threads": threads, "sched": "lpm"}, metric
    assert cli("best", study, "--pick", "throughput", "--format", "args").stdout == "--threads 4 --sched lpm\n"
    assert_one_line_error(cli("best", study, "--pick", "ttft"), 2, "--pick", "'ttft' is not one of the study's "
                          "objectives; use one of throughput, latency p90")


def test_pick_needs_several_objectives(tmp_path):
    task = bench_task(repeats=1, parameters={"threads": [1, 2]})
    assert cli("run", write_task(tmp_path, task), "--study-dir", tmp_path / "s").exit_code == 0
    assert_one_line_error(cli("best", tmp_path / "s", "--pick", "throughput"), 2, "--pick", "has one")


def test_table_and_markdown_show_the_front_first(study):
    report = report_json(study)
    markdown = cli("report", study, "--format", "markdown").stdout
    assert "maximize throughput and minimize latency p90" in markdown
    assert "Pareto front: 3 trials no other trial beats in every objective" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| trial")]
    assert [row.split(" | ")[0][2:] for row in rows[:3]] == [f"{i} \u25c6" for i in report["front"]]
    assert all("\u25c6" not in row for row in rows[3:]) and len(rows) == len(report["trials"])
    header = next(line for line in markdown.splitlines() if line.startswith("| trial"))
    assert "| throughput | latency p90 |" in header
    table = cli("report", study).stdout
    first = [line for line in table.splitlines() if "\u25c6" in line]
    assert len(first) >= 3 and table.index(first[0]) < min(table.index(f"\u2502 {t['id']} ") for t in report["trials"]
                                                           if t["id"] not in report["front"])


def test_csv_has_a_column_per_objective_and_the_front(study):
    rows = list(csv.DictReader(io.StringIO(cli("report", study, "--format", "csv").stdout)))
    assert {"value throughput", "value latency p90", "score throughput", "score latency p90", "front"} <= set(rows[0])
    assert sorted(int(r["id"]) for r in rows if r["front"] == "true") == report_json(study)["front"]


def test_top_k_lists_the_front_first(study):
    report = json.loads(cli("report", study, "--format", "json", "--top", "4").stdout)
    assert [t["id"] for t in report["trials"]][:3] == report_json(study)["front"]


def test_the_html_report_plots_the_front_in_chromium(study):
    report = report_json(study)
    page = html_checks.save("multi-objective", render_report(copy.deepcopy(report), "html"))
    with Browser() as browser:
        probe = html_checks.check_page(browser, page, "multi-objective")
    plots = html_checks.plots_of(probe)
    assert "front" in plots and "Pareto front" in plots["front"]["traces"]
    assert sorted(probe["front"]) == sorted(map(str, report["front"])) and probe["best"] == []
    assert {"throughput", "latency p90"} <= set(probe["headers"])


def test_finalists_remeasure_the_front(tmp_path):
    task = two_objective_task(finalists={"top_k": 2, "repeats": 2}, baseline={"threads": 2, "sched": "fcfs"})
    result = cli("run", write_task(tmp_path, task), "--study-dir", tmp_path / "s")
    assert result.exit_code == 0, result.stderr
    report = report_json(tmp_path / "s")
    contenders = [f["trial_id"] for f in report["finalists"]]
    search_front = trial_ids(report, FRONT)
    # two of the three members, those keeping the most hypervolume (greedily: first the middle one, whose
    # rectangle to the reference point is the largest), and the baseline
    kept = set(contenders) & set(search_front)
    assert len(contenders) == 3 and set(contenders) - set(search_front) == {report["baseline"]["trial_id"]}
    assert len(kept) == 2 and trial_ids(report, {(2, "lpm")})[0] in kept
    assert report["front"] == sorted(kept) and report["front_remeasured"] and report["best"] is None
    assert report["verdict"] is None and report["verdict_reason"].startswith("the Pareto front re-measured")
    assert "the baseline is off it, beaten by trial" in report["verdict_reason"]  # (2, fcfs) by (2, lpm)
    markdown = cli("report", tmp_path / "s", "--format", "markdown").stdout
    assert "Pareto front: 2 trials no other trial beats in every objective, re-measured" in markdown
    assert len(cli("best", tmp_path / "s", "--format", "args").stdout.splitlines()) == 2


def test_judging_the_front_says_who_dropped_off():
    def entry(trial_id, score, status="completed"):
        return {"trial_id": trial_id, "status": status, "score": score}

    members, reason = judge_front([entry(1, [1, 5]), entry(2, [2, 2]), entry(3, [1, 6]), entry(4, None, "failed"),
                                   entry(5, [2, 2])], baseline_id=None)
    assert members == [1, 2, 5]  # equal scores share the front
    assert "trial 3 dropped off it, beaten by trial 1" in reason and "trial 4 failed" in reason
    assert judge_front([entry(1, None, "infeasible")], None) == ([], "no contender held up when measured again "
                                                                     "(every one failed or missed a hard SLO)")


@pytest.mark.parametrize("strategy", ["tpe", "gp"])
def test_resume_continues_a_multi_objective_study_exactly(tmp_path, strategy):
    task = two_objective_task(strategy={"name": strategy, "seed": 3, "n_startup_trials": 3},
                              parameters={"threads": {"type": "int", "low": 1, "high": 7}, "sched": ["fcfs", "lpm"]})
    path = write_task(tmp_path, task)
    assert cli("run", path, "--study-dir", tmp_path / "whole", "--max-trials", "9").exit_code == 0
    assert cli("run", path, "--study-dir", tmp_path / "parts", "--max-trials", "5").exit_code == 0
    assert cli("resume", tmp_path / "parts", "--max-trials", "9").exit_code == 0
    whole, parts = report_json(tmp_path / "whole"), report_json(tmp_path / "parts")
    assert [t["params"] for t in parts["trials"]] == [t["params"] for t in whole["trials"]]
    assert parts["front"] == whole["front"] and parts["front"]


@pytest.mark.parametrize("change,field,words", [
    (lambda t: t.update(objective="throughput"), "objectives", "not both"),
    (lambda t: t.update(objectives=["throughput"]), "objectives", ""),
    (lambda t: t.update(objectives=["throughput", "latency", "ttft", "tpot"]), "objectives", ""),
    (lambda t: t.update(objectives=["throughput", "maximize_throughput"]), "objectives[1]",
     "reads the same metric as objectives[0]"),
    (lambda t: t.update(objectives=["throughput", "latncy"]), "objectives[1]", "unknown objective 'latncy'"),
    (lambda t: t.update(objectives=["throughput", {"metric": "gpu_memory"}]), "objectives[1].metric",
     "needs an explicit direction"),
])
def test_bad_objectives_are_refused(tmp_path, change, field, words):
    task = two_objective_task()
    change(task)
    path = write_task(tmp_path, task)
    assert_one_line_error(cli("validate", path), 2, str(path), field, words)


def test_validate_names_every_objective(tmp_path):
    result = cli("validate", write_task(tmp_path, two_objective_task()))
    assert result.exit_code == 0 and "objectives maximize throughput and minimize latency p90" in result.stdout


def test_the_vllm_speculative_example(tmp_path):
    """NEEDS A GPU, so vLLM is not run here: the task validates, and its service command passes a valid
    --speculative-config with the token count exactly when speculative decoding is on."""
    path = ROOT / "tasks" / "vllm-speculative.yaml"
    assert "NEEDS A GPU" in path.read_text()
    result = cli("validate", path, "--skip-programs")
    assert result.exit_code == 0, result.stderr
    assert "objectives maximize throughput and minimize ttft p90" in result.stdout
    assert "num_speculative_tokens: int[1, 8] when speculative=true" in result.stdout
    assert "strategy auto: gp (3 numeric, 1 categorical parameters (1 conditional), 2 objectives, budget 40)" \
        in result.stdout  # validate says what auto will choose
    task = load_task(path)
    assert [o.candidates for o in task.objectives][1] == ("p90_ttft",) and task.space.conditional
    values = {"port": 8000, "max_num_seqs": 64, "gpu_memory_utilization": 0.9}
    on = render_argv(task.service.command, {**values, "speculative": True, "num_speculative_tokens": 5})
    off = render_argv(task.service.command, {**values, "speculative": False})
    assert on[:len(off)] == off and on[len(off)] == "--speculative-config" and len(on) == len(off) + 2
    assert json.loads(on[-1]) == {"method": "ngram", "num_speculative_tokens": 5, "prompt_lookup_max": 4}
    assert "--speculative-config" not in off and "{" not in " ".join(off)
    assert task.space.contains(task.baseline) and "num_speculative_tokens" not in task.baseline
