"""DESIGN.md's promises under abuse: failed writes, corrupted state, misbehaving trials and services,
hostile values, umask, stale locks. Every test runs real processes."""
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from autotune.process import LOG_HEAD, LOG_TAIL
from conftest import (FAKE_TRIAL, assert_one_line_error, autotune_cmd, cli, fake_trial_task, report_of, run_autotune,
                      write_task)
from test_study import slow_study, trial_processes

FAKE_SERVICE = Path(__file__).resolve().parent / "fixtures" / "fake_service.py"


def state_of(study):
    return report_of(study)


# -- failed and torn writes ----------------------------------------------------------------------

def test_a_checkpoint_that_cannot_be_written_stops_the_run_and_keeps_the_previous_one(tmp_path):
    task = fake_trial_task(parameters={"x": [i / 10 for i in range(10)]})
    path = write_task(tmp_path, task)
    study = tmp_path / "study"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (8000, 8000))  # a disk that fills after a few trials

    result = subprocess.run(autotune_cmd("run", path, "--study-dir", study), capture_output=True, text=True,
                            preexec_fn=small_files, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot" in result.stderr.splitlines()[-1] and "File too large" in result.stderr
    before = state_of(study)  # still whole JSON: the failed write never replaced it
    assert 0 < len(before["trials"]) < 10
    resumed = run_autotune("resume", study)
    assert resumed.returncode == 0, resumed.stderr
    after = state_of(study)
    assert [t["params"]["x"] for t in after["trials"]] == [i / 10 for i in range(10)]
    assert all(t["status"] == "completed" for t in after["trials"])
    assert after["study"]["status"] == "completed"


def test_a_corrupted_checkpoint_is_rebuilt_from_the_journal(tmp_path):
    path = write_task(tmp_path, fake_trial_task())
    study = tmp_path / "study"
    assert cli("run", path, "--study-dir", study, "--max-trials", "3").exit_code == 0
    checkpoint = study / "checkpoint.json"
    checkpoint.write_text(checkpoint.read_text()[:200])
    assert [t["id"] for t in state_of(study)["trials"]] == [0, 1, 2]  # a report reads the journal's commit
    assert cli("resume", study, "--max-trials", "5").exit_code == 0
    assert [t["id"] for t in state_of(study)["trials"]] == [0, 1, 2, 3, 4]
    assert json.loads(checkpoint.read_text())["next_trial_id"] == 5


def test_a_corrupted_checkpoint_without_a_journal_is_refused(tmp_path):
    path = write_task(tmp_path, fake_trial_task())
    study = tmp_path / "study"
    assert cli("run", path, "--study-dir", study, "--max-trials", "1").exit_code == 0
    (study / "checkpoint.json").write_text("{torn")
    (study / "trials.jsonl").unlink()
    assert_one_line_error(cli("resume", study), 2, str(study / "checkpoint.json"), "corrupted checkpoint")


def test_garbage_a_kill_left_after_the_last_commit_is_dropped(tmp_path):
    path = write_task(tmp_path, fake_trial_task())
    study = tmp_path / "study"
    cli("run", path, "--study-dir", study, "--max-trials", "1")
    with open(study / "trials.jsonl", "ab") as f:
        f.write(b"\x00\xff garbage\n{\"half\": \n")
    assert cli("resume", study, "--max-trials", "2").exit_code == 0


# -- misbehaving trials ----------------------------------------------------------------------------

def test_a_trial_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    task = fake_trial_task(parameters={"mode": ["stubborn"]}, timeout="1s", kill_grace="0.5s")
    path = write_task(tmp_path, task)
    started = time.monotonic()
    result = cli("run", path, "--study-dir", tmp_path / "s")
    assert time.monotonic() - started < 15
    [trial] = state_of(tmp_path / "s")["trials"]
    assert trial["status"] == "failed" and "timed out" in trial["error"]
    assert not trial_processes(tmp_path / "s") and result.exit_code == 1


def test_a_gigabyte_of_output_is_capped_and_memory_stays_bounded(tmp_path):
    path = write_task(tmp_path, fake_trial_task(parameters={"mode": ["flood"]}))
    study = tmp_path / "s"
    # A wrapper runs autotune and reports the peak RSS of its descendants only (autotune and the trial).
    wrapper = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode;"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", wrapper, *autotune_cmd("run", path, "--study-dir", study)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    peak_kib = int(result.stdout.split()[-1])
    [trial] = state_of(study)["trials"]
    assert trial["status"] == "completed" and trial["value"] == 1.0  # the metrics line after 1 GB was found
    log = study / "trials" / "0000" / "stdout.log"
    assert log.stat().st_size <= LOG_HEAD + LOG_TAIL + 200
    assert b"bytes of output dropped here" in log.read_bytes()[LOG_HEAD:LOG_HEAD + 200]
    assert peak_kib < 400 * 1024  # autotune (and its trial) stayed far below the gigabyte that passed through


def test_a_trial_that_closes_stdout_early_still_reports(tmp_path):
    result = cli("run", write_task(tmp_path, fake_trial_task(parameters={"mode": ["closeout"]})),
                 "--study-dir", tmp_path / "s")
    assert result.exit_code == 0
    assert state_of(tmp_path / "s")["trials"][0]["value"] == 2.0


def service_task(*service_args, command=None, ready_timeout="20s"):
    return fake_trial_task(
        parameters={"x": [0.5]},
        service={"command": [sys.executable, str(FAKE_SERVICE), "{port}", *service_args],
                 "ready": {"http": "http://127.0.0.1:{port}/health", "timeout": ready_timeout,
                           "interval": "0.1s"},
                 "stop_timeout": "2s"},
        **({"command": command} if command else {}),
    )


def run_service_trial(tmp_path, task):
    study = tmp_path / "s"
    started = time.monotonic()
    cli("run", write_task(tmp_path, task), "--study-dir", study)
    [trial] = state_of(study)["trials"]
    assert not trial_processes(study)
    return trial, time.monotonic() - started, study


def test_a_service_is_started_checked_and_stopped(tmp_path):
    probe = ("import json, os, urllib.request;"
             "body = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['P']).read();"
             "print(json.dumps({'loss': 0.25 if body == b'ok' else 9.0}))")
    task = service_task(command=["python", "-c", probe])
    task["env"] = {"P": "{port}"}
    trial, _, study = run_service_trial(tmp_path, task)
    assert trial["status"] == "completed" and trial["value"] == 0.25
    log = (study / "trials" / "0000" / "service.log").read_text()
    assert "listening on" in log and "request /health" in log


def test_tcp_and_log_readiness(tmp_path):
    for ready in ({"tcp": "127.0.0.1:{port}"}, {"log": r"listening on \d+"}):
        task = service_task()
        task["service"]["ready"] = {**ready, "timeout": "20s", "interval": "0.1s"}
        directory = tmp_path / next(iter(ready))
        directory.mkdir()
        trial, _, _ = run_service_trial(directory, task)
        assert trial["status"] == "completed", (ready, trial["error"])


def test_a_service_that_never_gets_ready_fails_the_trial_at_its_timeout(tmp_path):
    trial, elapsed, _ = run_service_trial(tmp_path, service_task("--never-listen", ready_timeout="1s"))
    assert trial["status"] == "failed" and "service not ready after 1s" in trial["error"]
    assert elapsed < 15


def test_a_service_that_exits_fails_the_trial_quickly(tmp_path):
    trial, elapsed, _ = run_service_trial(tmp_path, service_task("--exit", "4"))
    assert trial["status"] == "failed" and "service exited before it was ready (exit code 4)" in trial["error"]
    assert elapsed < 15


def test_a_service_that_dies_mid_benchmark_fails_the_trial(tmp_path):
    slow = "import json, time; time.sleep(1.5); print(json.dumps({'loss': 1.0}))"
    trial, _, _ = run_service_trial(tmp_path, service_task("--die-after", "0.5", command=["python", "-c", slow]))
    assert trial["status"] == "failed" and "service exited during the run" in trial["error"]


# -- security ------------------------------------------------------------------------------------

def test_nothing_autotune_creates_is_world_writable(tmp_path):
    path = write_task(tmp_path, fake_trial_task(parameters={"x": [1, 2]}))
    study = tmp_path / "s"
    result = subprocess.run(autotune_cmd("run", path, "--study-dir", study), capture_output=True,
                            preexec_fn=lambda: os.umask(0), timeout=60)
    assert result.returncode == 0
    created = [study, *study.rglob("*")]
    assert len(created) > 10
    assert not [p for p in created if p.lstat().st_mode & stat.S_IWOTH]


def test_metrics_file_cannot_point_outside_the_trial_directory(tmp_path):
    for pattern in ("../*.json", "/etc/passwd", "a/../../b.json"):
        path = write_task(tmp_path, fake_trial_task(metrics={"file": pattern}))
        assert_one_line_error(cli("validate", path), 2, "metrics.file", "inside the trial directory")


def test_a_name_made_of_dots_stays_inside_the_studies_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("run", write_task(tmp_path, fake_trial_task(name="..", parameters={"x": [1]})))
    assert result.exit_code == 0
    study = Path(result.stdout.strip())
    assert study.parent == (tmp_path / "studies").resolve()


def test_option_like_and_path_like_values_stay_arguments(tmp_path):
    values = ["--help", "-rf", "/", "../../../../tmp/escape", "trials/0000/params.json"]
    task = fake_trial_task(command=[sys.executable, str(FAKE_TRIAL), "{v}"], parameters={"v": values})
    result = cli("run", write_task(tmp_path, task), "--study-dir", tmp_path / "s")
    assert result.exit_code == 0
    for t in state_of(tmp_path / "s")["trials"]:
        assert json.loads((tmp_path / "s" / "trials" / f"{t['id']:04d}" / "argv.json").read_text()) == [t["params"]["v"]]
    assert not Path("/tmp/escape").exists()


# -- concurrency and signals ---------------------------------------------------------------------

def test_a_stale_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    proc, study = slow_study(tmp_path, n=2)
    proc.kill()
    proc.wait()
    assert (study / ".lock").read_text() == str(proc.pid)
    result = run_autotune("resume", study, env={**os.environ, "FAKE_SLEEP": "0"})
    assert result.returncode == 0, result.stderr
    assert (study / ".lock").read_text() != str(proc.pid)


def test_sigint_during_a_stubborn_trial_exits_130_within_the_grace_period(tmp_path):
    task = fake_trial_task(parameters={"mode": ["stubborn"]}, kill_grace="1s")
    path = write_task(tmp_path, task)
    study = tmp_path / "s"
    proc = subprocess.Popen(autotune_cmd("run", path, "--study-dir", study), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not trial_processes(study) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the trial has set its SIGTERM handler
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.monotonic() - sent < 6
    assert not trial_processes(study)
    assert state_of(study)["study"]["status"] == "interrupted"


def test_trials_run_in_a_process_holding_more_than_1024_descriptors(tmp_path):
    """A runner with many parallel trials (five descriptors each) or a library caller holding many files
    gets descriptor numbers past 1024, which select() refuses: every trial used to fail there."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert max(held) > 1024
        result = cli("run", write_task(tmp_path, fake_trial_task()), "--study-dir", tmp_path / "s")
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert result.exit_code == 0, result.stderr
    assert {t["status"] for t in report_of(tmp_path / "s")["trials"]} == {"completed"}
