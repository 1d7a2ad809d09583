"""Early stopping end to end: studies through the inline executor (fast) and through the real CLI with
subprocess trials, the task options and {max_step}, what strategies learn from pruned trials, what the
report shows, and kill -9 then resume giving the same stop decisions as a run never interrupted."""
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autotune import Study, build_report, create_strategy, run_study
from autotune.executors.inline import InlineExecutor
from autotune.progress import Listener
from autotune.space import Space
from conftest import ROOT, assert_one_line_error, autotune_cmd, cli, report_of, run_autotune, write_task
from test_study import trial_processes

FIXTURES = Path(__file__).parent / "fixtures"
CURVE = FIXTURES / "curve_trial.py"
ASHA = {"name": "asha", "min_step": 1, "max_step": 9, "reduction_factor": 3}


def inline_task(tmp_path, **extra):
    task = {"name": "es", "executor": {"name": "inline", "function": "inline_trials:trial"},
            "workdir": str(FIXTURES), "parameters": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
            "objective": {"metric": "loss", "direction": "minimize"}, "strategy": {"name": "random", "seed": 4},
            "early_stopping": ASHA, **extra}
    return write_task(tmp_path, task)


def run(study, function, **kwargs):
    try:
        return run_study(study, executor=InlineExecutor(study.task, study.dir, function=function), **kwargs)
    finally:
        study.close()


def curve(params, context):
    """A learning curve whose rank at every step is its final rank: (x - 0.3)^2 + 1/step."""
    final = (params["x"] - 0.3) ** 2
    for step in range(1, ASHA["max_step"] + 1):
        context.report(step, loss=final + 1.0 / step)
        if context.stopped.wait(0.001):
            return {}
    return {"loss": final}


def test_hopeless_trials_are_pruned_at_rungs_and_the_best_is_completed(tmp_path):
    run(Study.create(inline_task(tmp_path), tmp_path / "s", max_trials=30), curve)
    report = build_report(tmp_path / "s")
    trials, best = report["trials"], report["best"]
    pruned = [t for t in trials if t["status"] == "pruned"]
    completed = [t for t in trials if t["status"] == "completed"]
    assert len(pruned) + len(completed) == 30 and len(pruned) >= 15 and completed
    assert report["stats"]["pruned"] == len(pruned)
    # The trial with the best curve is never stopped (it leads every rung it reaches), and it is the best.
    ideal = min(trials, key=lambda t: (t["params"]["x"] - 0.3) ** 2)
    assert best["trial_id"] == ideal["id"] and ideal["status"] == "completed"
    for trial in pruned:
        assert trial["step"] in (1, 3)  # ASHA's rungs below max_step 9
        assert trial["score"] == trial["intermediate"][-1]["value"] == trial["value"]
        assert trial["error"] == f"stopped early at step {trial['step']}"
        assert [p["step"] for p in trial["intermediate"]] == list(range(1, trial["step"] + 1))
    assert all(t["step"] == 9 and t["score"] == t["value"] for t in completed)
    assert sum(t["step"] for t in trials) < 0.5 * 30 * 9  # most of the steps were saved


def test_parallel_trials_never_wait_for_a_rung_to_fill(tmp_path):
    """Trial 1 is stopped at rung 1 while trial 2, started with it, has not reported anything yet: trial 2
    waits for trial 1's end, so a scheduler that waited for more reports at the rung would never stop it."""
    first_done, second_pruned, ended = threading.Event(), threading.Event(), []

    class Ends(Listener):
        def trial_finished(self, study, trial):
            ended.append((trial["id"], str(trial["status"]), trial["step"]))
            {0: first_done, 1: second_pruned}.get(trial["id"], threading.Event()).set()

    def gated(params, context):
        gate = {1: first_done, 2: second_pruned}.get(context.id)
        if gate is not None:
            gate.wait(30)
        return curve(params, context)

    path = inline_task(tmp_path, parameters={"x": [0.35, 0.9, 0.3]}, strategy="grid", parallel=3)
    run(Study.create(path, tmp_path / "s"), gated, listener=Ends())
    assert ended == [(0, "completed", 9), (1, "pruned", 1), (2, "completed", 9)]


def test_reports_are_judged_on_early_stopping_metric(tmp_path):
    """Reports name the loss `val` (the result says `loss`): unscorable until `metric: val` says so."""
    def val_curve(params, context):
        final = (params["x"] - 0.3) ** 2
        for step in range(1, 10):
            context.report(step, val=final + 1.0 / step)
            if context.stopped.wait(0.001):
                return {}
        return {"loss": final}

    run(Study.create(inline_task(tmp_path), tmp_path / "plain", max_trials=12), val_curve)
    assert {t["status"] for t in build_report(tmp_path / "plain")["trials"]} == {"completed"}
    path = inline_task(tmp_path, early_stopping={**ASHA, "metric": "val"})
    run(Study.create(path, tmp_path / "val", max_trials=12), val_curve)
    pruned = [t for t in build_report(tmp_path / "val")["trials"] if t["status"] == "pruned"]
    assert pruned
    for trial in pruned:
        x, step = trial["params"]["x"], trial["step"]
        assert trial["score"] == pytest.approx((x - 0.3) ** 2 + 1.0 / step) and trial["value"] is None


def test_resume_after_an_interrupt_drops_the_interrupted_attempts_reports(tmp_path):
    """A trial interrupted mid-run reports again from step 1 on resume; the scheduler judges only that attempt,
    so the study ends as one never interrupted."""
    path = inline_task(tmp_path, strategy={"name": "tpe", "seed": 3, "n_startup_trials": 4})
    run(Study.create(path, tmp_path / "whole", max_trials=16), curve)
    stop = threading.Event()

    def interrupted_at_trial_5(params, context):
        if context.id == 5 and not stop.is_set():
            final = (params["x"] - 0.3) ** 2
            for step in (1, 2, 3, 4):
                context.report(step, loss=final + 1.0 / step - 5.0)  # the best yet, voided by the re-run
            stop.set()
            context.stopped.wait(10)
            return {}
        return curve(params, context)

    run(Study.create(path, tmp_path / "parts", max_trials=16), interrupted_at_trial_5, stop=stop)
    assert build_report(tmp_path / "parts")["trials"][5]["status"] == "interrupted"
    run(Study.open(tmp_path / "parts"), curve)
    whole, parts = (build_report(tmp_path / d)["trials"] for d in ("whole", "parts"))
    keys = ("id", "params", "status", "step", "score")
    assert [{k: t[k] for k in keys} for t in parts] == [{k: t[k] for k in keys} for t in whole]
    assert {t["status"] for t in whole} == {"completed", "pruned"}


# -- strategies ---------------------------------------------------------------------------------------------
def proposals_after(told):
    """What tpe proposes for x once told these (x, score, status, step), in this order."""
    strategy = create_strategy({"name": "tpe", "seed": 0, "n_startup_trials": 1, "gamma": 0.2},
                               Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0}}))
    for x, score, status, step in told:
        strategy.tell({"x": x}, score, status, step=step)
    return [strategy.ask()["x"] for _ in range(8)]


LOW, HIGH = [0.025 * i for i in range(20)], [0.86, 0.88, 0.9, 0.92, 0.94]


@pytest.mark.parametrize("told", [
    [(x, 0.01, "pruned", 3) for x in LOW] + [(x, 10.0, "completed", None) for x in HIGH],
    [(x, 0.01, "pruned", 1) for x in LOW] + [(x, 10.0, "pruned", 9) for x in HIGH],
    [(x, 5.0, "pruned", 3) for x in LOW] + [(x, 0.01, "pruned", 3) for x in HIGH],
], ids=["completed-above-pruned", "later-step-above-earlier", "same-step-by-score"])
def test_tpe_ranks_pruned_below_completed_and_later_steps_above_earlier(told):
    """The five best-ranked trials (told last, so age cannot explain it) sit near x = 0.9, twenty others below
    0.5: tpe's good group is those five, so it proposes near them. Ranking every pruned trial the worst
    would make the good group the five oldest, near x = 0."""
    xs = proposals_after(told)
    assert sum(x > 0.6 for x in xs) >= 6, xs


# -- task options ------------------------------------------------------------------------------------------
def curve_task(**overrides):
    task = {"name": "curve", "command": [sys.executable, str(CURVE), "--steps", "{max_step}", "--x", "{x}",
                                         "--stubborn", "{stubborn}"],
            "parameters": {"x": [0.3, 0.9], "stubborn": [False, True]},
            "objective": {"metric": "loss", "direction": "minimize"}, "strategy": "grid",
            "early_stopping": ASHA, "kill_grace": 0.5, "timeout": 120}
    task.update(overrides)
    return task


@pytest.mark.parametrize("stopping,fragments", [
    ({"name": "asha", "min_step": 9, "max_step": 9}, ["early_stopping", "max_step (9) must be greater than min_step"]),
    ({"name": "median", "reduction_factor": 2, "max_step": 9}, ["early_stopping.reduction_factor",
                                                                 "does not apply to median"]),
    ({"name": "hyperband", "min_step": 1}, ["early_stopping", "hyperband needs max_step"]),
    ({"name": "asha", "reduction_factor": 1, "max_step": 9}, ["early_stopping.reduction_factor"]),
    ({"name": "asha", "min_stepp": 1, "max_step": 9}, ["early_stopping", "min_step"]),
    ({"name": "median", "max_step": 9, "metricc": "loss"}, ["early_stopping.metricc", "did you mean 'metric'"]),
    ({"name": "asha"}, ["command[3]", "{max_step} needs early_stopping.max_step"]),
])
def test_bad_early_stopping_options_are_one_line_errors(tmp_path, stopping, fragments):
    path = write_task(tmp_path, curve_task(early_stopping=stopping))
    assert_one_line_error(cli("validate", path), 2, *fragments)


@pytest.mark.parametrize("name", ["none", "median", "asha", "hyperband"])
def test_each_scheduler_validates_with_max_step_filling_the_placeholder(tmp_path, name):
    """Every scheduler takes `metric`; `none` takes the others' options too, so an asha task runs without
    stopping by its name alone."""
    options = {"name": name, "max_step": 9, "metric": "loss"} if name == "median" else \
        {**ASHA, "metric": "loss", "name": name}
    result = cli("validate", write_task(tmp_path, curve_task(early_stopping=options)))
    assert result.exit_code == 0, result.stderr
    assert (f"early stopping {name}" in result.stdout) == (name != "none")


# -- real subprocess trials through the CLI -----------------------------------------------------------------
def test_a_stopped_process_gets_sigterm_then_sigkill_and_keeps_its_files(tmp_path):
    path = write_task(tmp_path, curve_task())
    study = tmp_path / "study"
    result = run_autotune("run", path, "--study-dir", study, env={**os.environ, "CURVE_PAUSE": "1.0"})
    assert result.returncode == 0, result.stderr
    report = report_of(study)
    # grid order: (0.3, false), (0.3, true), (0.9, false), (0.9, true); the 0.9 ones lose at rung 1
    assert [(t["status"], t["step"]) for t in report["trials"]] == [
        ("completed", 9), ("completed", 9), ("pruned", 1), ("pruned", 1)]
    assert report["best"]["trial_id"] == 0
    # The plain log (CI) gives a trial's first step, then at most a line per 30 s: not one per step.
    progress = re.findall(r"^autotune: trial (\d+) step (\d+): loss", result.stderr, re.MULTILINE)
    assert sorted(progress) == [("0", "1"), ("1", "1"), ("2", "1"), ("3", "1")]
    polite, stubborn = (study / "trials" / f"{i:04d}" for i in (2, 3))
    assert (polite / "terminated").read_text() == "SIGTERM\n"  # SIGTERM reached it, and its files stay
    assert not (stubborn / "terminated").exists()  # it ignored SIGTERM: SIGKILL ended it, not its timeout
    for directory in (polite, stubborn):
        assert '{"step": 1,' in (directory / "stdout.log").read_text()
        assert json.loads((directory / "result.json").read_text())["status"] == "pruned"
    assert report["trials"][3]["duration_s"] < 60 and not trial_processes(study)
    table = cli("report", study, "--format", "markdown").stdout
    assert "| trial | status | step |" in table and "| 2 | pruned | 1 |" in table and "2 pruned" in table


def test_the_shipped_early_stopping_example_runs(tmp_path):
    study = tmp_path / "study"
    result = run_autotune("run", ROOT / "tasks" / "train-mlp-asha.yaml", "--study-dir", study, "--max-trials", "14")
    assert result.returncode == 0, result.stderr
    report = report_of(study)
    completed = [t for t in report["trials"] if t["status"] == "completed"]
    pruned = [t for t in report["trials"] if t["status"] == "pruned"]
    assert completed and len(pruned) >= 5
    assert all(t["step"] == 81 and len(t["intermediate"]) == 81 for t in completed)  # {max_step} epochs
    assert all(t["step"] in (9, 27) for t in pruned)  # its rungs: min_step 9, reduction_factor 3
    assert report["best"]["trial_id"] in {t["id"] for t in completed}


KILLS = 8


def finished_trials(study: Path) -> int:
    try:
        return (study / "trials.jsonl").read_text().count('"event": "finished"')
    except OSError:
        return 0


def test_kill_9_at_random_moments_then_resume_gives_the_same_stop_decisions(tmp_path):
    """Each run is killed at a random moment after it finished a trial of its own (so every kill lands
    mid-study, often mid-trial), then resumed: the stop decisions and the trials match a run never killed."""
    task = curve_task(parameters={"x": {"type": "float", "low": 0.0, "high": 1.0}, "stubborn": [False]},
                      strategy={"name": "tpe", "seed": 5, "n_startup_trials": 4}, budget={"max_trials": 24})
    path = write_task(tmp_path, task)
    env = {**os.environ, "CURVE_PAUSE": "0.08"}
    reference = tmp_path / "reference"
    subprocess.run(autotune_cmd("run", path, "--study-dir", reference), check=True, capture_output=True, env=env)
    keys = ("id", "params", "status", "step", "score")
    expected = [{k: t[k] for k in keys} for t in report_of(reference)["trials"]]
    assert {t["status"] for t in expected} == {"completed", "pruned"} and len(expected) == 24

    study = tmp_path / "killed"
    rng = random.Random("early-stopping")
    kills, command = 0, autotune_cmd("run", path, "--study-dir", study)
    while kills < KILLS:
        before = finished_trials(study)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        while proc.poll() is None and finished_trials(study) <= before:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.2))  # short: the pruned trials are quick, and 8 kills must land in 24 trials
        if proc.poll() is not None:
            break
        proc.kill()
        proc.wait()
        kills += 1
        command = autotune_cmd("resume", study)
    final = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert final.returncode == 0, final.stderr
    assert kills == KILLS, "the study finished before every kill landed"
    report = report_of(study)
    assert report["study"]["status"] == "completed"
    assert [{k: t[k] for k in keys} for t in report["trials"]] == expected
