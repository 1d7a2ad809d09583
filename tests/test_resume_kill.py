"""kill -9 a real `autotune run` at random moments, resume it each time: the study ends with the same
configurations in the same order as one never interrupted, each trial id once."""
import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from conftest import autotune_cmd, fake_trial_task, report_of, write_task

KILLS = 10
CHECKPOINT_KILLS = 3
CHECKPOINT_ATTEMPTS = 5
TRIALS = 20
SLOW = {**os.environ, "FAKE_SLEEP": "0.15"}  # trials long enough for kills to land in every phase
SPACES = {
    "grid": {"x": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.1}, "c": ["a", "b"], "mode": ["sleep"]},
    "random": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "n": {"type": "int", "low": 1, "high": 64, "log": True},
               "c": ["a", "b"], "mode": ["sleep"]},
    "tpe": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "n": {"type": "int", "low": 1, "high": 64, "log": True},
            "c": ["a", "b"], "mode": ["sleep"]},
}


def sequence(study):
    report = report_of(study)
    return report, [(t["id"], json.dumps(t["params"], sort_keys=True)) for t in report["trials"]]


@pytest.mark.parametrize("strategy", ["grid", "random", "tpe"])
def test_kill_9_at_random_moments_then_resume(tmp_path, strategy):
    options = {"name": strategy, "seed": 7}
    if strategy == "tpe":
        options["n_startup_trials"] = 4
    task = fake_trial_task(parameters=SPACES[strategy], strategy=options, budget={"max_trials": TRIALS})
    path = write_task(tmp_path, task)

    reference = tmp_path / "reference"
    subprocess.run(autotune_cmd("run", path, "--study-dir", reference), check=True, capture_output=True, env=SLOW)
    _, expected = sequence(reference)
    assert len(expected) == TRIALS

    study = tmp_path / "killed"
    rng = random.Random(f"kill-{strategy}")
    kills, command = 0, autotune_cmd("run", path, "--study-dir", study)
    while kills < KILLS:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=SLOW)
        time.sleep(rng.uniform(0.2, 0.9))
        if proc.poll() is not None:
            break  # finished before the kill landed
        proc.kill()
        proc.wait()
        kills += 1
        if (study / "checkpoint.json").exists():
            command = autotune_cmd("resume", study)
    final = subprocess.run(command, capture_output=True, text=True, timeout=120, env=SLOW)
    state, got = sequence(study)
    assert final.returncode == 0, final.stderr
    assert kills == KILLS, "the study finished before every kill landed"
    assert state["study"]["status"] == "completed"
    assert got == expected
    ids = [i for i, _ in got]
    assert ids == sorted(set(ids))
    assert all(t["status"] == "completed" for t in state["trials"])


def test_many_kill_points_land_mid_trial(tmp_path):
    """With trials that take a while, kills land inside trials; the interrupted ones are re-run."""
    task = fake_trial_task(parameters={"x": [0.0, 0.5, 1.0], "mode": ["sleep"]}, strategy="grid")
    path = write_task(tmp_path, task)
    study = tmp_path / "study"
    env = {**os.environ, "FAKE_SLEEP": "0.6"}
    command = autotune_cmd("run", path, "--study-dir", study)
    for delay in (0.9, 1.0, 1.1):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        if (study / "checkpoint.json").exists():
            command = autotune_cmd("resume", study)
    final = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert final.returncode == 0, final.stderr
    state, got = sequence(study)
    assert [json.loads(p)["x"] for _, p in got] == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("strategy", ["grid", "random", "tpe"])
def test_kill_9_while_a_checkpoint_is_being_written(tmp_path, strategy):
    """Kill the moment the checkpoint's temporary file appears: the rename has not happened yet."""
    options = {"name": strategy, "seed": 3}
    task = fake_trial_task(parameters=SPACES[strategy], strategy=options, budget={"max_trials": 12})
    path = write_task(tmp_path, task)
    reference = tmp_path / "reference"
    subprocess.run(autotune_cmd("run", path, "--study-dir", reference), check=True, capture_output=True)
    _, expected = sequence(reference)

    study = tmp_path / "killed"
    rng = random.Random(strategy)
    # The temporary file lives for microseconds: a poller descheduled on a loaded machine can miss every
    # write, and the run then ends unkilled. Such an attempt proves nothing, so it starts over afresh.
    for _ in range(CHECKPOINT_ATTEMPTS):
        shutil.rmtree(study, ignore_errors=True)
        command, kills = kill_during_checkpoint_writes(autotune_cmd("run", path, "--study-dir", study), study, rng)
        if kills == CHECKPOINT_KILLS:
            break
    final = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert kills == CHECKPOINT_KILLS
    state, got = sequence(study)
    assert got == expected and state["study"]["status"] == "completed"


def kill_during_checkpoint_writes(command, study, rng):
    """CHECKPOINT_KILLS runs, each killed during a checkpoint write, each after the first resuming the
    study; stops at a run that finished before its kill. The command that goes on, and the kills that landed."""
    temp, kills, stderr = study / ".checkpoint.json.tmp", 0, study.parent / "stderr.txt"
    for _ in range(CHECKPOINT_KILLS):
        with open(stderr, "w") as err:  # a file, not a pipe: a full pipe would hold the run up
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        target, writes, present = rng.randint(1, 6), 0, False  # kill during the target-th write seen
        while proc.poll() is None and time.monotonic() < deadline:
            now = temp.exists()
            writes += now and not present
            present = now
            if present and writes == target:
                proc.kill()
                kills += 1
                break
        proc.wait()
        if (study / "checkpoint.json").exists():
            command = autotune_cmd("resume", study)
        if proc.returncode == 0:
            break  # it finished before its kill
        assert proc.returncode == -signal.SIGKILL, stderr.read_text()
    return command, kills
