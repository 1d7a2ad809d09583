"""The executor contract, run over every registered executor: a trial's result, its progress reports,
its failure, and a stop that ends it at once."""
import sys
import time

import pytest

from autotune import EXECUTORS, create_executor, load_task
from autotune.trial import TrialSpec
import ray_cluster
from conftest import write_task

# The same trial for every executor: report `steps` progress points `pause` seconds apart, then a loss.
COMMAND = ("import json, sys, time; x, steps, pause, mode = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),"
           " sys.argv[4]; loss = (x - 0.3) ** 2;"
           "mode == 'fail' and sys.exit('something broke');"
           "[(print(json.dumps({'step': s, 'loss': loss + 1 / s}), flush=True), time.sleep(pause))"
           " for s in range(1, steps + 1)];"
           "print(json.dumps({'loss': loss}))")


def task_for(name, tmp_path):
    """A task each executor can run; a new executor adds its own line here."""
    base = {"name": "contract", "parameters": {"x": {"type": "float", "low": 0, "high": 1}, "steps": [0, 3],
                                                "pause": [0.0, 0.2, 30.0], "mode": ["ok", "fail"]},
            "objective": {"metric": "loss", "direction": "minimize"}, "kill_grace": 2,
            "command": [sys.executable, "-c", COMMAND, "{x}", "{steps}", "{pause}", "{mode}"]}
    options = {"local": {}, "inline": {"function": "inline_trials:trial"},
               "ray": {"address": ray_cluster.address()} if name == "ray" else None}[name]
    fixtures = str(__import__("pathlib").Path(__file__).parent / "fixtures")
    base["executor"] = {"name": name, **options}
    base["workdir"] = fixtures
    return load_task(write_task(tmp_path, base))


@pytest.fixture(scope="module", autouse=True)
def _ray_cluster():
    """The Ray cluster the ray executor's runs use, started by the first of them, stopped at the end."""
    yield
    ray_cluster.stop()


def run(executor, spec, stop_after=None, timeout=60):
    handle = executor.submit(spec)
    reports, started = [], time.monotonic()
    while not handle.done():
        executor.wakeup.wait(0.5)
        executor.wakeup.clear()
        reports += handle.poll()
        if stop_after is not None and len(reports) >= stop_after:
            handle.stop(2.0)
            stop_after = None
        assert time.monotonic() - started < timeout
    return handle.result(), reports + handle.poll()


def spec(tmp_path, trial_id=0, **params):
    full = {"x": 0.5, "steps": 0, "pause": 0.0, "mode": "ok", **params}
    return TrialSpec(trial_id, full, tmp_path / "study" / "trials" / f"{trial_id:04d}")


@pytest.mark.parametrize("name", sorted(EXECUTORS))
def test_a_trial_gives_its_runs_metrics(name, tmp_path):
    executor = create_executor(name, task_for(name, tmp_path).executor.options, task_for(name, tmp_path),
                               tmp_path / "study")
    result, _ = run(executor, spec(tmp_path, x=0.5))
    assert result["status"] == "ok" and result["error"] is None
    [[batch]] = result["runs"]
    assert abs(batch["loss"] - 0.04) < 1e-9 and result["duration_s"] >= 0
    assert (tmp_path / "study" / "trials" / "0000" / "params.json").exists()
    executor.close()


@pytest.mark.parametrize("name", sorted(EXECUTORS))
def test_progress_reports_arrive_in_order(name, tmp_path):
    task = task_for(name, tmp_path)
    executor = create_executor(name, task.executor.options, task, tmp_path / "study")
    result, reports = run(executor, spec(tmp_path, x=0.3, steps=3, pause=0.05))
    assert result["status"] == "ok"
    assert [r["step"] for r in reports] == [1, 2, 3]
    assert [round(r["values"]["loss"], 6) for r in reports] == [1.0, 0.5, round(1 / 3, 6)]
    executor.close()


@pytest.mark.parametrize("name", sorted(EXECUTORS))
def test_a_failure_is_a_failed_result_with_its_reason(name, tmp_path):
    task = task_for(name, tmp_path)
    executor = create_executor(name, task.executor.options, task, tmp_path / "study")
    result, _ = run(executor, spec(tmp_path, mode="fail"))
    assert result["status"] == "failed" and "something broke" in result["error"]
    executor.close()


@pytest.mark.parametrize("name", sorted(EXECUTORS))
def test_stop_ends_a_running_trial_at_once(name, tmp_path):
    task = task_for(name, tmp_path)
    executor = create_executor(name, task.executor.options, task, tmp_path / "study")
    started = time.monotonic()
    result, reports = run(executor, spec(tmp_path, steps=3, pause=30.0), stop_after=1)
    assert result["status"] == "stopped" and len(reports) == 1
    assert time.monotonic() - started < 10
    executor.close()
