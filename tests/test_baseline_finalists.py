"""warmup, baseline first, the spread of repeats, and finalists with a verdict, on real runs."""
import json
import os
import subprocess
import time

from autotune.storage import read_journal
from conftest import autotune_cmd, cli, fake_trial_task, report_of, run_autotune, write_task

# Each run bumps a counter in the study directory and reports loss = x + noise(counter).
COUNTING = ("import json, os, sys, time; d = os.environ['STUDY']; p = os.path.join(d, 'count');"
            "time.sleep(float(os.environ.get('RUN_SECONDS', '0')));"
            "n = int(open(p).read()) if os.path.exists(p) else 0; open(p, 'w').write(str(n + 1));"
            "x = float(sys.argv[1]); noise = float(sys.argv[2]) * (1 if n % 2 else -1);"
            "print(json.dumps({'loss': x + noise, 'count': n}))")


def counting_task(noise=0.0, **overrides):
    task = {"command": ["python", "-c", COUNTING, "{x}", str(noise)], "env": {"STUDY": "{study.dir}"},
            "parameters": {"x": [0.0, 0.25, 0.5, 0.75, 1.0]}}
    return fake_trial_task(**{**task, **overrides})


def run(tmp_path, task, *flags):
    study = tmp_path / "s"
    result = cli("run", write_task(tmp_path, task), "--study-dir", study, *flags)
    assert result.exit_code == 0, result.stderr
    return study, report_of(study)


def report(study, fmt="json"):
    result = cli("report", study, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) if fmt == "json" else result.stdout


def test_warmup_runs_are_discarded(tmp_path):
    study, state = run(tmp_path, counting_task(parameters={"x": [0.0]}, warmup=2, repeats=1))
    [trial] = state["trials"]
    assert trial["metrics"]["count"] == 2 and len(trial["runs"]) == 1  # runs 0 and 1 were warm-up
    lines = (study / "trials" / "0000" / "stdout.log").read_text().splitlines()
    assert [json.loads(line)["count"] for line in lines] == [0, 1, 2]


def test_a_failing_warmup_fails_the_trial(tmp_path):
    _, state = run(tmp_path, fake_trial_task(parameters={"mode": ["exit3", "ok"]}, warmup=1))
    failed = [t for t in state["trials"] if t["params"]["mode"] == "exit3"][0]
    assert failed["status"] == "failed" and failed["error"].startswith("warmup 1: exit code 3")


def test_repeats_show_their_spread(tmp_path):
    study, state = run(tmp_path, counting_task(noise=0.1, parameters={"x": [1.0]}, repeats=3))
    assert [round(r["loss"], 6) for r in state["trials"][0]["runs"]] == [0.9, 1.1, 0.9]
    assert "0.9 (0.9-1.1)" in report(study, "markdown")


def test_baseline_runs_first_and_is_compared(tmp_path):
    study, state = run(tmp_path, counting_task(baseline={"x": 0.75}))
    xs = [t["params"]["x"] for t in state["trials"]]
    assert xs[0] == 0.75 and sorted(xs) == [0.0, 0.25, 0.5, 0.75, 1.0]  # grid skips what the baseline tried
    data = report(study)
    assert data["baseline"]["trial_id"] == 0 and data["baseline"]["params"] == {"x": 0.75}
    assert data["best"]["params"] == {"x": 0.0}
    assert "Best vs baseline (trial 0): -100.0% loss" in report(study, "markdown")


def test_baseline_with_tpe(tmp_path):
    task = counting_task(baseline={"x": 0.5}, strategy={"name": "tpe", "seed": 1, "n_startup_trials": 2},
                         budget={"max_trials": 4})
    _, state = run(tmp_path, task)
    assert state["trials"][0]["params"] == {"x": 0.5}
    assert len({t["params"]["x"] for t in state["trials"]}) == 4


def test_finalists_clearly_ahead(tmp_path):
    study, state = run(tmp_path, counting_task(finalists={"top_k": 3, "repeats": 2}))
    assert [f["trial_id"] for f in state["finalists"]] == [0, 1, 2]
    assert all(len(f["runs"]) == 2 for f in state["finalists"])
    data = report(study)
    assert data["verdict"] == "clear"
    assert [f["trial_id"] for f in data["finalists"]] == [0, 1, 2]
    assert set(data["finalists"][0]) == {"trial_id", "params", "value", "runs"}
    assert (study / "finalists" / "0000" / "result.json").exists()
    assert "verdict: clear" in report(study, "markdown")


def test_finalists_within_noise_are_inconclusive(tmp_path):
    _, state = run(tmp_path, counting_task(noise=1.0, finalists={"top_k": 2, "repeats": 3}))
    assert state["verdict"] == "inconclusive"


def test_an_interrupted_finalist_is_measured_again_on_resume(tmp_path):
    """kill -9 while the second finalist is measured: resume measures it again and judges."""
    path = write_task(tmp_path, counting_task(finalists={"top_k": 2, "repeats": 2}))
    study = tmp_path / "s"
    env = {**os.environ, "RUN_SECONDS": "0.3"}
    proc = subprocess.Popen(autotune_cmd("run", path, "--study-dir", study), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(e["event"] == "finalist" for e in read_journal(study / "trials.jsonl")):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert [f["trial_id"] for f in report(study)["finalists"]] == [0]
    result = run_autotune("resume", study, env=env)
    assert result.returncode == 0, result.stderr
    data = report(study)
    assert [f["trial_id"] for f in data["finalists"]] == [0, 1]
    assert data["verdict"] == "clear" and len(data["trials"]) == 5
