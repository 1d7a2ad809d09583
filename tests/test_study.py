"""The study directory, checkpoint, budgets, resume, locking and signals, through the real CLI."""
import json
import os
import signal
import subprocess
import time

import pytest

from autotune.storage import read_journal
from conftest import autotune_cmd, cli, fake_trial_task, processes_with, report_of, run_autotune, trials_of, write_task


def start(tmp_path, task, *flags):
    study = tmp_path / "study"
    result = cli("run", write_task(tmp_path, task), "--study-dir", study, *flags)
    return result, study


def checkpoint(study):
    return json.loads((study / "checkpoint.json").read_text())


def read_jsonl(path):
    return read_journal(path).events


def test_study_directory_layout_and_checkpoint(tmp_path):
    result, study = start(tmp_path, fake_trial_task())
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(study.resolve())
    assert (study / "task.yaml").read_bytes() == (tmp_path / "task.yaml").read_bytes()
    state = checkpoint(study)
    for key in ("format_version", "task_sha256", "task_path", "workdir", "strategy", "next_trial_id",
                "status", "budget", "elapsed_s", "journal_bytes"):
        assert key in state, key
    assert state["status"] == "completed" and state["next_trial_id"] == 5
    assert state["strategy"]["name"] == "grid" and "rng" in state["strategy"]
    assert os.path.isabs(state["workdir"])
    assert state["journal_bytes"] == (study / "trials.jsonl").stat().st_size
    trials = trials_of(study)
    assert [t["params"]["x"] for t in trials] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for trial in trials:
        assert trial["status"] == "completed" and trial["score"] == trial["value"]
        directory = study / "trials" / f"{trial['id']:04d}"
        for name in ("params.json", "stdout.log", "stderr.log", "metrics.json", "result.json"):
            assert (directory / name).exists(), name
        assert "log line before the metrics" in (directory / "stdout.log").read_text()
    events = read_jsonl(study / "trials.jsonl")
    assert [e["event"] for e in events] == ["started", "finished"] * 5


def test_default_study_dir_and_refusing_an_existing_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_task(tmp_path, fake_trial_task(parameters={"x": [1]}))
    result = cli("run", path)
    assert result.exit_code == 0, result.stderr
    study = result.stdout.strip()
    assert os.path.basename(study).startswith("fake-") and "studies" in study
    again = cli("run", path, "--study-dir", study)
    assert again.exit_code == 2 and "autotune resume" in again.stderr


def test_exit_1_when_no_trial_is_feasible(tmp_path):
    task = fake_trial_task(parameters={"x": [5.0]}, slo={"latency": {"p50": {"threshold": 1, "hard_fail": True}}})
    task["command"] += ["--x"]
    code = "import json; print(json.dumps({'loss': 1.0, 'p50_e2e_latency': 9.0}))"
    task["command"] = ["python", "-c", code]
    result, study = start(tmp_path, task)
    assert result.exit_code == 1
    assert trials_of(study)[0]["status"] == "infeasible"


def test_budget_flags_and_resume_with_a_larger_budget(tmp_path):
    result, study = start(tmp_path, fake_trial_task(), "--max-trials", "2")
    assert result.exit_code == 0 and len(trials_of(study)) == 2
    nothing = cli("resume", study)
    assert nothing.exit_code == 0 and "nothing left" in nothing.stderr
    more = cli("resume", study, "--max-trials", "4")
    assert more.exit_code == 0
    assert [t["id"] for t in trials_of(study)] == [0, 1, 2, 3]


def test_max_time_stops_launching(tmp_path):
    task = fake_trial_task(parameters={"x": [1, 2, 3, 4, 5, 6], "mode": ["sleep"]})
    result, study = start(tmp_path, task, "--max-time", "1s")
    report = report_of(study)
    assert result.exit_code == 0 and report["study"]["status"] == "completed"
    assert 1 <= len(report["trials"]) < 6


@pytest.mark.parametrize("setup,message", [
    (lambda d: None, "no such study directory"),
    (lambda d: d.mkdir(), "not a study"),
    (lambda d: (d.mkdir(), (d / "checkpoint.json").write_text("{torn")), "corrupted checkpoint"),
])
def test_resume_refuses_what_is_not_a_study(tmp_path, setup, message):
    study = tmp_path / "study"
    setup(study)
    result = cli("resume", study)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_resume_refuses_a_changed_task_unless_forced(tmp_path):
    _, study = start(tmp_path, fake_trial_task(), "--max-trials", "1")
    (study / "task.yaml").write_text((study / "task.yaml").read_text() + "\n# edited\n")
    refused = cli("resume", study, "--max-trials", "2")
    assert refused.exit_code == 2 and "task.yaml" in refused.stderr and "--force" in refused.stderr
    forced = cli("resume", study, "--max-trials", "2", "--force")
    assert forced.exit_code == 0 and len(trials_of(study)) == 2


def test_resume_tolerates_a_torn_last_line_in_the_log(tmp_path):
    _, study = start(tmp_path, fake_trial_task(), "--max-trials", "2")
    with open(study / "trials.jsonl", "ab") as f:
        f.write(b'{"event": "finished", "id": 9, "par')
    result = cli("resume", study, "--max-trials", "3")
    assert result.exit_code == 0, result.stderr
    events = read_jsonl(study / "trials.jsonl")
    assert [e["id"] for e in events if e["event"] == "finished"] == [0, 1, 2]


def slow_study(tmp_path, n=4):
    task = fake_trial_task(parameters={"x": list(range(n)), "mode": ["sleep"]})
    path = write_task(tmp_path, task)
    study = tmp_path / "study"
    env = {**os.environ, "FAKE_SLEEP": "30"}
    proc = subprocess.Popen(autotune_cmd("run", path, "--study-dir", study), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(e.get("event") == "started" for e in read_jsonl(study / "trials.jsonl")) and trial_processes(study):
            return proc, study
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the study never started a trial")


def trial_processes(study):
    return processes_with(f"AUTOTUNE_TRIAL_DIR={study.resolve()}")


def test_a_second_process_cannot_own_the_study(tmp_path):
    proc, study = slow_study(tmp_path)
    try:
        result = run_autotune("resume", study)
        assert result.returncode == 2
        assert "in use" in result.stderr and str(proc.pid) in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_checkpoints_exits_130_and_resumes(tmp_path, sig):
    proc, study = slow_study(tmp_path, n=2)
    assert trial_processes(study)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 10
    assert not trial_processes(study)
    assert "\x1b" not in stderr  # no terminal: plain lines, no control characters
    report = report_of(study)
    assert report["study"]["status"] == "interrupted"
    assert report["trials"][0]["status"] == "interrupted"
    # Resume re-runs the interrupted trial with its params, under its id.
    result = run_autotune("resume", study, env={**os.environ, "FAKE_SLEEP": "0"})
    assert result.returncode == 0, result.stderr
    assert [(t["id"], t["params"]["x"], t["status"]) for t in trials_of(study)] == [(0, 0, "completed"),
                                                                                    (1, 1, "completed")]


def test_resume_stops_trial_processes_a_killed_runner_left_behind(tmp_path):
    proc, study = slow_study(tmp_path, n=2)
    proc.kill()
    proc.wait()
    orphans = trial_processes(study)
    assert orphans  # kill -9 leaves the trial's own process group running
    result = run_autotune("resume", study, env={**os.environ, "FAKE_SLEEP": "0"})
    assert result.returncode == 0, result.stderr
    assert not trial_processes(study)


def test_report_best_and_resume_without_dir_take_the_newest_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_task(tmp_path, fake_trial_task(parameters={"x": [0.1, 0.5]}))
    first = cli("run", path, "--max-trials", "1").stdout.strip()
    second = cli("run", path).stdout.strip()
    assert first != second
    for command in (["report"], ["best"], ["resume"]):
        result = cli(*command)
        assert result.exit_code == 0, result.stderr
        assert f"autotune: study {os.path.relpath(second)}" in result.stderr.splitlines()[0]
    assert "x: 0.5" in cli("best").stdout or "x: 0.1" in cli("best").stdout


def test_without_any_study_the_error_says_how_to_start_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("report")
    assert result.exit_code == 2 and "no study under studies/" in result.stderr and "autotune run" in result.stderr


def test_resume_given_a_task_file_suggests_run(tmp_path):
    path = write_task(tmp_path, fake_trial_task())
    result = cli("resume", path)
    assert result.exit_code == 2
    assert "is a file, not a study directory" in result.stderr and f"autotune run {path}" in result.stderr


def test_the_end_of_a_run_gives_the_answer_and_the_next_commands(tmp_path):
    result, study = start(tmp_path, fake_trial_task())
    last = result.stderr.strip().splitlines()[-2:]
    assert last[0].startswith("autotune: best: trial 1, loss") and "x=0.25" in last[0]
    assert f"autotune report {study.resolve()}" in last[1] and "--format args" in last[1]
    (tmp_path / "f").mkdir()
    failed, _ = start(tmp_path / "f", fake_trial_task(parameters={"mode": ["exit3"]}))
    end = failed.stderr.strip().splitlines()[-2:]
    assert "no feasible trial" in end[1] and end[0].endswith("no feasible trial")  # finished: not "yet"


def test_a_study_without_a_feasible_trial_exits_1_when_run_and_when_resumed(tmp_path):
    path = write_task(tmp_path, fake_trial_task(parameters={"mode": ["exit3"]}))
    study = tmp_path / "s"
    first = cli("run", path, "--study-dir", study)
    assert first.exit_code == 1 and "no feasible trial" in first.stderr, first.stderr
    again = cli("resume", study)
    assert again.exit_code == 1 and "nothing left to run" in again.stderr, again.stderr
