"""`report --format junit`: one testcase per trial, failed and infeasible as failures, pruned as skipped."""
import copy
import xml.etree.ElementTree as ET

import pytest

from bench_study import bench_task, report_json, run_study
from conftest import cli

from autotune.report import render_report


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """1 thread completes, 8 miss the latency SLO (infeasible), 16 run out of memory (failed)."""
    task = bench_task(repeats=1, parameters={"threads": [1, 8, 16]},
                      slo={"latency": {"p90": {"threshold": 2.0, "hard_fail": True, "fail_ratio": 0.5}}})
    return run_study(tmp_path_factory.mktemp("junit"), task)


def cases(root: ET.Element) -> dict:
    return {case.get("name").split(":")[0]: case for case in root.iter("testcase")}


def test_one_testcase_per_trial_with_failures_and_their_reasons(study, tmp_path):
    out = tmp_path / "junit.xml"
    assert cli("report", study, "--format", "junit", "--output", out).exit_code == 0
    root = ET.parse(out).getroot()
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite.get("name") == "autotune.serving"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "2", "0")
    found = cases(root)
    assert set(found) == {"trial 0 (best)", "trial 1", "trial 2"}
    assert found["trial 0 (best)"].find("failure") is None
    assert "mean_total_throughput = 110" in found["trial 0 (best)"].find("system-out").text
    infeasible, failed = found["trial 1"].find("failure"), found["trial 2"].find("failure")
    assert infeasible.get("type") == "infeasible" and "misses the latency.p90 SLO" in infeasible.get("message")
    assert failed.get("type") == "failed" and "out of memory with 16 threads" in failed.text
    assert float(found["trial 2"].get("time")) > 0
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["objective"] == "maximize throughput" and properties["best_trial"] == "0"


def test_pruned_is_skipped_and_control_characters_stay_parseable(study):
    report = copy.deepcopy(report_json(study))
    report["trials"][0].update(status="pruned", step=3)
    report["trials"][2]["error"] = "crashed \x1b[31mred\x1b[0m \x00 done"
    root = ET.fromstring(render_report(report, "junit").encode())
    found = cases(root)
    skipped = found["trial 0 (best)"].find("skipped")
    assert skipped is not None and skipped.get("message") == "pruned at step 3"
    assert root.get("skipped") == "1" and root.get("failures") == "2"
    assert "crashed" in found["trial 2"].find("failure").get("message")
