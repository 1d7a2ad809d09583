"""`autotune compare BASE NEW`: the CI gate, on real studies whose throughput and noise the tests set."""
import json

import pytest

from bench_study import bench_task, run_study
from conftest import assert_one_line_error, cli


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Studies of one configuration measured 3 times: level 100 (1% and 10% noise), 90, 95 (10% noise), 99."""
    root = tmp_path_factory.mktemp("compare")
    made = {name: run_study(root / name, bench_task(level, noise))
            for name, level, noise in [("base", 100, 0.01), ("slower", 90, 0.01), ("noisy_base", 100, 0.1),
                                       ("noisy_slower", 95, 0.1), ("slightly_slower", 99, 0.0),
                                       ("exact_base", 100, 0.0)]}
    made["latency"] = run_study(root / "latency", bench_task(objective={"metric": "latency", "stat": "p90"}))
    made["broken"] = run_study(root / "broken", bench_task(parameters={"threads": [16]}))
    return made


def compare(studies, base, new, *flags):
    return cli("compare", studies[base], studies[new], *flags)


def test_a_regression_beyond_tolerance_and_noise_exits_1(studies):
    result = compare(studies, "base", "slower", "--format", "json")
    assert result.exit_code == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "regression" and data["regression"] is True and data["overlap"] is False
    assert data["change"] == pytest.approx(-0.10)
    assert data["base"]["value"] == pytest.approx(110.0) and data["new"]["value"] == pytest.approx(99.0)
    assert (data["base"]["min"], data["base"]["max"]) == (pytest.approx(108.9), pytest.approx(111.1))
    assert data["base"]["runs"] == 3 and data["base"]["measured_by"] == "search"
    assert_one_line_error(result, 1, "regression: throughput", "10.0% worse", "2% tolerance")


def test_markdown_for_a_step_summary(studies):
    result = compare(studies, "base", "slower", "--format", "markdown")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "### autotune compare: maximize throughput"
    assert "❌ **regression**" in result.stdout
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert "110 (108.9-111.1)" in rows["throughput (objective)"] and "-10.0%" in rows["throughput (objective)"]
    assert {"params", "mean_total_throughput", "p90_e2e_latency", "mean_ttft", "mean_tpot"} <= set(rows)


def test_worse_but_within_the_noise_passes(studies):
    result = compare(studies, "noisy_base", "noisy_slower", "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert data["verdict"] == "within noise" and data["overlap"] is True and data["change"] == pytest.approx(-0.05)


def test_within_tolerance_passes_and_a_tighter_tolerance_fails(studies):
    result = compare(studies, "exact_base", "slightly_slower")
    assert result.exit_code == 0 and "within tolerance" in result.stdout and "-1.0%" in result.stdout
    tight = compare(studies, "exact_base", "slightly_slower", "--tolerance", "0.5%")
    assert tight.exit_code == 1 and "regression" in tight.stderr


def test_an_improvement_passes(studies):
    result = compare(studies, "slower", "base", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["verdict"] == "improvement"


def test_a_new_study_without_a_feasible_trial_is_a_regression(studies):
    result = compare(studies, "base", "broken", "--format", "markdown")
    assert result.exit_code == 1 and "no feasible trial" in result.stdout
    assert_one_line_error(result, 1, "regression", str(studies["broken"]))


def test_finalists_re_measurements_are_the_range(tmp_path, studies):
    # Back to back in one directory, so the trial's run counter gives its runs their known spread.
    task = bench_task(level=90, noise=0.01, repeats=1, parameters={"threads": [0, 1]},
                      finalists={"top_k": 2, "repeats": 3, "interleave": False})
    study = run_study(tmp_path, task)
    data = json.loads(cli("compare", studies["base"], study, "--format", "json").stdout)
    assert data["new"]["measured_by"] == "finalist re-measurement" and data["new"]["runs"] == 3
    assert data["new"]["min"] < data["new"]["value"] < data["new"]["max"]


@pytest.mark.parametrize("args, fragments", [
    (("base", "latency"), ["latency", "differs from", "same objective"]),
    (("base", "base", "--tolerance", "two"), ["--tolerance", "'two'"]),
    (("base", "base", "--tolerance", "-2%"), ["--tolerance"]),
    (("base", "base", "--format", "html"), ["--format", "html"]),
    (("broken", "base"), ["broken", "no feasible trial to compare against"]),
])
def test_bad_input_is_exit_2_with_one_line(studies, args, fragments):
    result = cli("compare", *(studies[a] if a in studies else a for a in args))
    assert_one_line_error(result, 2, *fragments)
    assert result.stdout == ""


def test_a_directory_that_is_not_a_study(tmp_path, studies):
    assert_one_line_error(cli("compare", studies["base"], tmp_path), 2, str(tmp_path), "not a study")
