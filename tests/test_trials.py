"""Trials as real subprocesses: argv safety, ports, parallelism, timeouts and every way a trial can fail."""
import json
import os
import sys
import time
from pathlib import Path

from conftest import FAKE_TRIAL, cli, fake_trial_task, report_of, write_task
from test_study import trial_processes


def run_study(tmp_path, task, *flags):
    study = tmp_path / "study"
    result = cli("run", write_task(tmp_path, task), "--study-dir", study, *flags)
    return result, report_of(study), study


def test_values_with_shell_metacharacters_are_one_argument_each(tmp_path):
    evil = ["$(touch PWNED)", "a; touch PWNED2", "`touch PWNED3`", "--version", "../../x", "a b\nc", "*"]
    task = fake_trial_task(command=[sys.executable, str(FAKE_TRIAL), "--v={v}", "{v}"],
                           parameters={"v": evil}, workdir=str(tmp_path))
    result, state, study = run_study(tmp_path, task)
    assert result.exit_code == 0, result.stderr
    for trial in state["trials"]:
        argv = json.loads((study / "trials" / f"{trial['id']:04d}" / "argv.json").read_text())
        assert argv == [f"--v={trial['params']['v']}", trial["params"]["v"]]
    assert not list(tmp_path.glob("PWNED*"))


def test_string_command_is_split_with_shlex_and_never_reaches_a_shell(tmp_path):
    task = fake_trial_task(command=f"{sys.executable} {FAKE_TRIAL} 'two words' {{v}} ; touch PWNED",
                           parameters={"v": ["$HOME"]}, workdir=str(tmp_path))
    result, state, study = run_study(tmp_path, task)
    argv = json.loads((study / "trials" / "0000" / "argv.json").read_text())
    assert argv == ["two words", "$HOME", ";", "touch", "PWNED"]
    assert not (tmp_path / "PWNED").exists()


def test_trial_environment_and_port(tmp_path):
    probe = ("import json, os, socket;"
             "s = socket.socket(); s.bind(('127.0.0.1', int(os.environ['P']))); s.close();"
             "print(json.dumps({'loss': 1.0, 'port': int(os.environ['P']),"
             " 'id': int(os.environ['AUTOTUNE_TRIAL_ID']),"
             " 'x': json.loads(os.environ['AUTOTUNE_PARAMS'])['x']}))")
    task = fake_trial_task(command=["python", "-c", probe], env={"P": "{port}"},
                           parameters={"x": [1, 2, 3]}, parallel=3)
    result, state, _ = run_study(tmp_path, task)
    assert result.exit_code == 0, result.stderr
    ports = {t["metrics"]["port"] for t in state["trials"]}
    assert len(ports) == 3 and all(1024 < p < 65536 for p in ports)
    assert all(t["metrics"]["id"] == t["id"] and t["metrics"]["x"] == t["params"]["x"] for t in state["trials"])


def test_parallel_runs_trials_at_once(tmp_path):
    task = fake_trial_task(parameters={"x": [1, 2], "mode": ["times"]}, parallel=2)
    result, state, study = run_study(tmp_path, task)
    assert result.exit_code == 0, result.stderr
    spans = [(t["metrics"]["start"], float((study / "trials" / f"{t['id']:04d}" / "end").read_text()))
             for t in state["trials"]]
    (s1, e1), (s2, e2) = spans
    assert s1 < e2 and s2 < e1  # the two trials overlapped


def test_each_failure_is_recorded_with_its_reason_and_the_study_goes_on(tmp_path):
    modes = ["exit3", "segv", "nan", "garbage", "silent", "ok"]
    task = fake_trial_task(parameters={"mode": modes}, budget={"fail_fast": False})
    result, state, study = run_study(tmp_path, task)
    assert result.exit_code == 0, result.stderr
    by_mode = {t["params"]["mode"]: t for t in state["trials"]}
    assert by_mode["ok"]["status"] == "completed"
    reasons = {"exit3": "exit code 3: something broke", "segv": "killed by signal SIGSEGV",
               "nan": "not a finite number", "garbage": "not JSON", "silent": "no metrics"}
    for mode, reason in reasons.items():
        assert by_mode[mode]["status"] == "failed" and reason in by_mode[mode]["error"], by_mode[mode]
        assert by_mode[mode]["score"] is None
        assert (study / "trials" / f"{by_mode[mode]['id']:04d}" / "result.json").exists()
    assert not trial_processes(study)


def test_timeout_kills_the_whole_tree(tmp_path):
    task = fake_trial_task(parameters={"mode": ["hang"]}, timeout="1s", kill_grace=0.5)
    started = time.monotonic()
    result, state, study = run_study(tmp_path, task)
    assert time.monotonic() - started < 20
    [trial] = state["trials"]
    assert trial["status"] == "failed" and "timed out after 1s" in trial["error"]
    child = int((study / "trials" / "0000" / "child.pid").read_text())
    assert not _alive(child)
    assert result.exit_code == 1  # no feasible trial


def test_max_failed_trials_ends_the_study(tmp_path):
    task = fake_trial_task(parameters={"x": [1, 2, 3, 4, 5], "mode": ["exit3"]}, budget={"max_failed_trials": 2})
    result, state, _ = run_study(tmp_path, task)
    assert result.exit_code == 1
    assert state["study"]["status"] == "failed" and len(state["trials"]) == 2


def test_repeats_run_the_command_several_times(tmp_path):
    counter = tmp_path / "count"
    code = (f"import json; p = {str(counter)!r}; import os;"
            "n = int(open(p).read()) if os.path.exists(p) else 0; open(p, 'w').write(str(n + 1));"
            "print(json.dumps({'loss': float(n)}))")
    task = fake_trial_task(command=["python", "-c", code], parameters={"x": [1]}, repeats=3)
    result, state, _ = run_study(tmp_path, task)
    [trial] = state["trials"]
    assert [r["loss"] for r in trial["runs"]] == [0.0, 1.0, 2.0] and trial["value"] == 1.0


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        if "State:\tZ" in status:
            return False
        time.sleep(0.1)
    return True


def test_a_trial_cannot_write_outside_through_its_name(tmp_path):
    # The study directory comes from the task name; a name with a path separator is refused up front.
    path = write_task(tmp_path, fake_trial_task(name="../escape"))
    assert cli("validate", path).exit_code == 2
    assert not (tmp_path.parent / "escape").exists()
    assert os.listdir(tmp_path) == ["task.yaml"]


def test_a_mistake_that_fails_every_trial_stops_the_study_early(tmp_path):
    task = fake_trial_task(command=["python", "-c", "import sys; sys.exit('unknown flag --tp')"],
                           parameters={"x": list(range(50))})
    result, state, _ = run_study(tmp_path, task)
    assert result.exit_code == 1
    assert len(state["trials"]) == 5 and state["study"]["status"] == "failed"
    stopped = [line for line in result.stderr.splitlines() if "stopped:" in line]
    assert stopped and "the first 5 trials all failed" in stopped[0] and "unknown flag --tp" in stopped[0]
