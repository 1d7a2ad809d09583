"""The study loop through the Python API, with the inline executor (trials are function calls, so these
run in milliseconds): budgets, the baseline, failures that stop a study, a stop event, listeners, resume."""
import threading
from pathlib import Path

import pytest

from autotune import Study, StudyStatus, build_report, run_study
from autotune.executors.inline import InlineExecutor
from autotune.progress import Listener
from conftest import write_task

FIXTURES = Path(__file__).parent / "fixtures"


def make_task(tmp_path, **extra):
    task = {"name": "loop", "executor": {"name": "inline", "function": "inline_trials:trial"},
            "workdir": str(FIXTURES), "parameters": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
            "objective": {"metric": "loss", "direction": "minimize"}, "strategy": {"name": "random", "seed": 4},
            **extra}
    return write_task(tmp_path, task)


def run(study, function=None, **kwargs):
    executor = InlineExecutor(study.task, study.dir, function=function) if function else None
    try:
        return run_study(study, executor=executor, **kwargs)
    finally:
        study.close()


class Events(Listener):
    def __init__(self):
        self.seen = []

    def trial_started(self, study, trial):
        self.seen.append(("started", trial["id"]))

    def trial_finished(self, study, trial):
        self.seen.append(("finished", trial["id"], str(trial["status"])))


def test_a_budget_of_trials_with_events_for_each(tmp_path):
    events = Events()
    outcome = run(Study.create(make_task(tmp_path), tmp_path / "s", max_trials=6), listener=events)
    assert outcome.status == StudyStatus.COMPLETED and outcome.launched == 6
    report = build_report(tmp_path / "s")
    assert [t["id"] for t in report["trials"]] == list(range(6))
    assert report["best"]["value"] == min(t["value"] for t in report["trials"])
    assert [e[0] for e in events.seen] == ["started", "finished"] * 6


def test_the_baseline_runs_first_and_the_strategy_learns_from_it(tmp_path):
    run(Study.create(make_task(tmp_path, baseline={"x": 0.9}), tmp_path / "s", max_trials=3))
    trials = build_report(tmp_path / "s")["trials"]
    assert trials[0]["params"] == {"x": 0.9} and build_report(tmp_path / "s")["baseline"]["trial_id"] == 0


def test_resume_continues_the_sequence_of_an_uninterrupted_run(tmp_path):
    path = make_task(tmp_path, strategy={"name": "tpe", "seed": 2, "n_startup_trials": 3})
    run(Study.create(path, tmp_path / "whole", max_trials=10))
    run(Study.create(path, tmp_path / "parts", max_trials=4))
    for total in (7, 10):
        study = Study.open(tmp_path / "parts")
        study.set_budget(max_trials=total)
        run(study)
    whole, parts = (build_report(tmp_path / d)["trials"] for d in ("whole", "parts"))
    assert [t["params"] for t in parts] == [t["params"] for t in whole]


def test_a_library_caller_stops_a_run_with_an_event(tmp_path):
    stop = threading.Event()

    def trial(params, context):
        stop.set()  # the caller decides to stop while the first trial runs
        context.stopped.wait(10)
        return {"loss": 1.0}

    outcome = run(Study.create(make_task(tmp_path), tmp_path / "s", max_trials=5), trial, stop=stop)
    assert outcome.status == StudyStatus.INTERRUPTED
    report = build_report(tmp_path / "s")
    assert report["study"]["status"] == "interrupted" and [t["status"] for t in report["trials"]] == ["interrupted"]


@pytest.mark.parametrize("fail_fast,trials,reason", [
    ({}, 5, "the first 5 trials all failed"),
    ({"first": 2}, 2, "the first 2 trials all failed"),
    ({"first": 0, "streak": 4}, 4, "4 trials in a row failed for the same reason"),
])
def test_trials_that_keep_failing_stop_the_study(tmp_path, fail_fast, trials, reason):
    budget = {"max_trials": 50, **({"fail_fast": fail_fast} if fail_fast else {})}
    study = Study.create(make_task(tmp_path, budget=budget), tmp_path / "s")
    outcome = run(study, lambda params, context: 1 / 0)
    assert outcome.status == StudyStatus.FAILED and reason in outcome.reason
    assert "ZeroDivisionError" in outcome.reason
    assert len(build_report(tmp_path / "s")["trials"]) == trials


def test_a_streak_counts_only_the_same_reason(tmp_path):
    def alternating(params, context):
        raise RuntimeError("port busy" if context.id % 2 else "out of memory")

    budget = {"max_trials": 12, "fail_fast": {"first": 0, "streak": 3}}
    outcome = run(Study.create(make_task(tmp_path, budget=budget), tmp_path / "s"), alternating)
    assert outcome.status == StudyStatus.COMPLETED and len(build_report(tmp_path / "s")["trials"]) == 12


def test_numbers_in_a_reason_do_not_break_a_streak(tmp_path):
    def busy(params, context):
        raise RuntimeError(f"port {4000 + context.id} in use")

    budget = {"max_trials": 20, "fail_fast": {"first": 0, "streak": 3}}
    outcome = run(Study.create(make_task(tmp_path, budget=budget), tmp_path / "s"), busy)
    assert outcome.status == StudyStatus.FAILED and "3 trials in a row" in outcome.reason


def test_fail_fast_false_asks_for_no_limit(tmp_path):
    budget = {"max_trials": 12, "fail_fast": False}
    outcome = run(Study.create(make_task(tmp_path, budget=budget), tmp_path / "s"), lambda p, c: 1 / 0)
    assert outcome.status == StudyStatus.COMPLETED and len(build_report(tmp_path / "s")["trials"]) == 12
