"""kill -9 a real `autotune run` at random moments, resume it each time: the study ends with the same
configurations in the same order as one never interrupted, each trial id once."""
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import autotune_cmd, fake_trial_task, report_of, write_task

KILLS = 10
CHECKPOINT_KILLS = 3
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
    """Kill a run inside a checkpoint write, after the journal's commit and before the rename, and resume,
    CHECKPOINT_KILLS times: the study ends as one never interrupted."""
    options = {"name": strategy, "seed": 3}
    task = fake_trial_task(parameters=SPACES[strategy], strategy=options, budget={"max_trials": 12})
    path = write_task(tmp_path, task)
    reference = tmp_path / "reference"
    subprocess.run(autotune_cmd("run", path, "--study-dir", reference), check=True, capture_output=True)
    _, expected = sequence(reference)

    study = tmp_path / "killed"
    rng = random.Random(strategy)
    # The first kill lands in the creation's own write, before any checkpoint.json (a directory holding
    # only the temporary file is one `run` takes); the others at random moments.
    study.mkdir()
    os.mkfifo(study / ".checkpoint.json.tmp")
    delays = [0.0] + [rng.uniform(0.3, 1.5) for _ in range(CHECKPOINT_KILLS - 1)]
    command, kills = autotune_cmd("run", path, "--study-dir", study), 0
    for delay in delays:
        if not kill_inside_a_checkpoint_write(command, study, delay, rng):
            break
        kills += 1
        assert kills > 1 or not (study / "checkpoint.json").exists(), "the first kill missed the creation's write"
        if (study / "checkpoint.json").exists():
            command = autotune_cmd("resume", study)
    final = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert kills == CHECKPOINT_KILLS, "the study finished before every kill landed"
    state, got = sequence(study)
    assert got == expected and state["study"]["status"] == "completed"


def kill_inside_a_checkpoint_write(command, study, delay, rng) -> bool:
    """Run `command` and, `delay` seconds on, put a FIFO where the next checkpoint write opens its temporary
    file: the run blocks in that open, after the journal's commit and before the rename, and is killed
    there with no race against a file that otherwise lives for microseconds. A cut-short file takes the
    FIFO's place, as a kill during the write leaves one (here a prefix of the previous checkpoint, since
    nothing of the new one was written). False if the run ended first."""
    temp, stderr = study / ".checkpoint.json.tmp", study.parent / "stderr.txt"
    with open(stderr, "w") as err:  # a file, not a pipe: a full pipe would hold the run up
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=SLOW)
    try:
        time.sleep(delay)
        while proc.poll() is None:
            try:
                os.mkfifo(temp)
                break
            except FileExistsError:  # the previous kill's leftover, until the run's first write replaces it
                if temp.is_fifo():
                    break
                time.sleep(0.001)
        deadline = time.monotonic() + 60
        while proc.poll() is None and not blocked_opening_a_fifo(proc.pid):
            assert time.monotonic() < deadline, "the run never blocked in a checkpoint write (no /proc/PID/wchan?)"
            time.sleep(0.005)
        ended = proc.poll() is not None
    finally:  # never leave a run blocked on the FIFO, holding the study's lock
        proc.kill()
        proc.wait()
    if ended:
        assert proc.returncode == 0, stderr.read_text()
        if temp.is_fifo():  # made as the run was leaving
            temp.unlink()
        return False
    assert proc.returncode == -signal.SIGKILL, stderr.read_text()
    previous = study / "checkpoint.json"
    temp.unlink()
    temp.write_bytes(previous.read_bytes()[: rng.randint(0, 200)] if previous.exists() else b'{"ver')
    return True


def blocked_opening_a_fifo(pid: int) -> bool:
    """Linux names the kernel function a sleeping thread waits in (/proc/PID/task/TID/wchan): an open of a
    FIFO for writing waits for a reader in wait_for_partner (Linux 5.9 and later; this test needs it)."""
    try:
        return any((task / "wchan").read_text() == "wait_for_partner" for task in Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # it exited
        return False
