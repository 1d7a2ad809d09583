"""The ray executor on a real Ray cluster of three nodes on 127.0.0.1 with pretend GPUs (ray_cluster.py):
a study gives what the local executor gives; files come back from the nodes' own directories; an
interrupt and a kill -9 leave no trial process on any node and resume re-runs the trials; a lost node
costs nothing, or fails the trial with "node lost" past max_retries; and the core runs without Ray."""
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import ray_cluster
from conftest import autotune_cmd, cli, processes_with, report_of, run_autotune, write_task

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NODE_TRIAL = FIXTURES / "node_trial.py"
FAKE_SERVICE = FIXTURES / "fake_service.py"
# `import ray` fails in a process whose sys.modules maps it to None: a machine without the [ray] extra.
WITHOUT_RAY = "import sys; sys.modules['ray'] = None; from autotune.cli import main; main()"


@pytest.fixture(scope="module", autouse=True)
def _cluster():
    yield
    ray_cluster.stop()


def node_task(tmp_path, parameters, **extra) -> dict:
    """Trials of fixtures/node_trial.py; their processes carry TEST_MARK so the test finds them on any node."""
    task = {"name": "nodes", "command": [sys.executable, str(NODE_TRIAL), "{gpus}", "{study.dir}"],
            "parameters": parameters, "objective": {"metric": "loss", "direction": "minimize"}, "strategy": "grid",
            "env": {"TEST_MARK": str(tmp_path), "HOLD": str(tmp_path / "hold")}, "kill_grace": 2}
    task.update(extra)
    return task


def on_ray(**options) -> dict:
    return {"name": "ray", "address": ray_cluster.address(), **options}


def run(directory: Path, task: dict, *flags, code: int = 0) -> tuple[Path, dict, str]:
    """The study's directory, its report and what `autotune run` printed on stdout."""
    directory.mkdir(parents=True, exist_ok=True)
    study = directory / "study"
    result = cli("run", write_task(directory, task), "--study-dir", study, *flags)
    assert result.exit_code == code, result.stderr
    return study, report_of(study), result.stdout


def trial_processes(tmp_path) -> list[int]:
    """Trial processes of this test on every node (the nodes share this machine)."""
    return processes_with(f"TEST_MARK={tmp_path}\0")


def wait_for(condition, timeout: float = 60, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def trial_file(study: Path, trial_id: int, name: str) -> dict:
    return json.loads((study / "trials" / f"{trial_id:04d}" / name).read_text())


def expected_loss(params: dict) -> float:
    return (params.get("x", 0.5) - 0.3) ** 2 + params.get("tp", 1) / 100


def test_without_ray_the_core_runs_and_asking_for_ray_is_one_line_naming_the_extra(tmp_path):
    path = write_task(tmp_path, node_task(tmp_path, {"x": [0.1, 0.5]}))
    local = subprocess.run([sys.executable, "-c", WITHOUT_RAY, "run", path, "--study-dir", tmp_path / "local"],
                           capture_output=True, text=True, timeout=60)
    assert local.returncode == 0, local.stderr
    asked = subprocess.run([sys.executable, "-c", WITHOUT_RAY, "run", path, "--study-dir", tmp_path / "ray",
                            "--executor", "ray"], capture_output=True, text=True, timeout=60)
    assert asked.returncode == 2 and "Traceback" not in asked.stderr
    assert len(asked.stderr.strip().splitlines()) == 1 and "pip install 'autotune[ray]'" in asked.stderr, asked.stderr
    assert not (tmp_path / "ray").exists()  # refused before a study directory was made


def test_a_cluster_that_does_not_answer_is_one_line(tmp_path):
    path = write_task(tmp_path, node_task(tmp_path, {"x": [0.1]}))
    result = run_autotune("run", path, "--study-dir", tmp_path / "s", "--ray-address", "127.0.0.1:1", timeout=60)
    assert result.returncode == 2 and "127.0.0.1:1" in result.stderr and "nothing answers" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_study_on_ray_gives_the_trials_statuses_and_values_of_the_local_executor(tmp_path):
    task = node_task(tmp_path, {"x": [0.1, 1.2], "tp": [1, 2, 4]}, resources={"gpus": "{tp}"}, parallel=3)
    _, local, _ = run(tmp_path / "local", task, "--gpus", "0,1")
    study, ray, _ = run(tmp_path / "ray", {**task, "executor": on_ray()})

    def seen(report):
        return [(t["id"], t["params"], t["status"], t["value"]) for t in report["trials"]]

    assert seen(ray) == seen(local)
    assert {t["status"] for t in ray["trials"]} == {"completed", "failed", "infeasible"}
    for t in ray["trials"]:
        tp = t["params"]["tp"]
        if tp == 4:  # more than a node holds: never started, anywhere
            assert t["status"] == "infeasible" and "needs 4 GPUs" in t["error"] and t["gpus"] is None
            continue
        if t["status"] == "completed":
            assert t["value"] == pytest.approx(expected_loss(t["params"]))
        given = trial_file(study, t["id"], "given.json")
        # The devices Ray assigned reach the trial ({gpus}, AUTOTUNE_GPUS, CUDA_VISIBLE_DEVICES) and its record.
        assert len(t["gpus"]) == tp and given["arg"] == given["autotune"] == given["env"] == ",".join(t["gpus"])
        assert trial_file(study, t["id"], "ray.json")["node"]["gpus"] == t["gpus"]
    journal = [json.loads(line) for line in (study / "trials.jsonl").read_text().splitlines()]
    assert all(e["gpus"] is not None for e in journal if e["event"] == "finished" and e["status"] != "infeasible")


def test_files_come_back_from_the_trials_directory_on_its_node(tmp_path):
    service = {"command": [sys.executable, str(FAKE_SERVICE), "{port}"],
               "ready": {"http": "http://127.0.0.1:{port}/health"}}
    task = node_task(tmp_path, {"x": [0.2]}, repeats=2, service=service, executor=on_ray())
    study, report, _ = run(tmp_path, task)
    [trial] = report["trials"]
    assert trial["status"] == "completed" and len(trial["runs"]) == 2
    here = study / "trials" / "0000"
    record = trial_file(study, 0, "ray.json")
    given = trial_file(study, 0, "given.json")
    # The trial ran in a directory of its node, not in the study's, and that directory is gone now...
    assert given["trial_dir"] == record["node"]["directory"] != str(here)
    assert given["study_dir"] != str(study) and not Path(given["trial_dir"]).exists()
    # ...yet its capped logs, metrics files, service log and params are in the study's trial directory.
    assert {"params.json", "stdout.log", "stderr.log", "service.log", "run-1.json", "run-2.json",
            "given.json", "result.json", "metrics.json"} <= {p.name for p in here.iterdir()}
    assert json.loads((here / "params.json").read_text()) == {"x": 0.2}
    assert (here / "stdout.log").read_text().count("done") == 2
    assert "listening on" in (here / "service.log").read_text()
    assert json.loads((here / "run-2.json").read_text()) == {"loss": pytest.approx(expected_loss({"x": 0.2}))}


def test_a_timeout_reaches_a_trial_that_ignores_sigterm_on_its_node(tmp_path):
    (tmp_path / "hold").touch()  # the trial would wait two minutes
    task = node_task(tmp_path, {"x": [0.1], "stubborn": [True]}, timeout=1, kill_grace=1, executor=on_ray())
    started = time.monotonic()
    _, report, _ = run(tmp_path, task, code=1)  # no feasible trial
    [trial] = report["trials"]
    # SIGTERM at the timeout, ignored; SIGKILL after kill_grace, on the node.
    assert trial["status"] == "failed" and trial["error"].startswith("timed out after 1s"), trial["error"]
    assert time.monotonic() - started < 30 and not trial_processes(tmp_path)


@pytest.fixture
def procs():
    """Processes a test started, killed at its end if it failed before they ended."""
    started = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigint_and_kill_9_leave_no_trial_process_on_any_node_and_resume_reruns_the_trials(tmp_path, procs):
    (tmp_path / "hold").touch()
    # Two GPUs a trial: the two trials at once run on two nodes.
    path = write_task(tmp_path, node_task(tmp_path, {"x": [0.1, 0.2, 0.3]}, resources={"gpus": 2}, parallel=2))
    study = tmp_path / "study"
    start = ["run", path, "--study-dir", study, "--executor", "ray", "--ray-address", ray_cluster.address()]

    def running(*args):
        proc = subprocess.Popen(autotune_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return proc, wait_for(lambda: len(trial_processes(tmp_path)) >= 2 and set(trial_processes(tmp_path)),
                              what="two trials running")

    proc, _ = running(*start)
    procs.append(proc)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 10 and not trial_processes(tmp_path)
    report = report_of(study)
    assert report["study"]["status"] == "interrupted"
    assert [t["status"] for t in report["trials"]] == ["interrupted"] * 2

    proc, killed = running("resume", study)
    procs.append(proc)
    proc.kill()
    proc.wait()
    left = []

    def resumed():
        wait_for(lambda: len(set(trial_processes(tmp_path)) - killed) >= 2, what="the resumed trials running")
        left.extend(killed & set(trial_processes(tmp_path)))
        (tmp_path / "hold").unlink()

    raised = meanwhile(tmp_path, resumed)
    result = cli("resume", study)  # its recover() runs before it starts trials
    assert not raised, raised
    assert result.exit_code == 0, result.stderr
    assert not left, "a killed runner's trial processes were left"
    trials = report_of(study)["trials"]
    assert [(t["id"], t["params"]["x"], t["status"]) for t in trials] == [
        (0, 0.1, "completed"), (1, 0.2, "completed"), (2, 0.3, "completed")]
    assert not trial_processes(tmp_path)


def meanwhile(tmp_path, action) -> list:
    """Run `action` in a thread while the test runs a study in the main thread (the CLI's); the list gets
    the exception it raised, if any, and the held trials are let go then so that the study ends."""
    raised = []

    def guarded():
        try:
            action()
        except BaseException as e:  # noqa: BLE001 -- handed to the test, which fails with it
            raised.append(e)
            (tmp_path / "hold").unlink(missing_ok=True)

    threading.Thread(target=guarded, daemon=True).start()
    return raised


def test_a_node_lost_mid_study_costs_nothing(tmp_path):
    (tmp_path / "hold").touch()
    xs = [0.0, 0.1, 0.2]
    # Three trials of two GPUs each fill the cluster's three nodes: one of them runs on the node lost. No
    # `parallel`: it defaults to what the cluster holds at once, three such trials.
    task = node_task(tmp_path, {"x": xs, "steps": [3]}, resources={"gpus": 2}, executor=on_ray())
    lost = ray_cluster.workers()[0]

    def lose_a_node():
        wait_for(lambda: len(trial_processes(tmp_path)) == 3, what="three trials running")
        ray_cluster.remove(lost)
        time.sleep(1)  # its trial waits for a node with two free GPUs, to run again there
        (tmp_path / "hold").unlink()

    raised = meanwhile(tmp_path, lose_a_node)
    study, report, stdout = run(tmp_path, task)
    assert not raised, raised
    assert stdout.strip() == str(study)  # Ray's notice of the lost node went to stderr, not among the results
    trials = report["trials"]
    assert [(t["params"]["x"], t["status"]) for t in trials] == [(x, "completed") for x in xs]
    assert [t["value"] for t in trials] == pytest.approx([expected_loss({"x": x}) for x in xs])
    records = [trial_file(study, t["id"], "ray.json") for t in trials]
    rerun = [r for r in records if r["lost"]]
    assert len(rerun) == 1 and all(r["lost"] == [lost.node_id] for r in rerun)
    assert all(r["node"]["node_id"] != lost.node_id for r in rerun)
    # The re-run's reports of steps already reported are not passed on again: each trial's steps once.
    journal = [json.loads(line) for line in (study / "trials.jsonl").read_text().splitlines()]
    for t in trials:
        assert [e["step"] for e in journal if e["event"] == "report" and e["id"] == t["id"]] == [1, 2, 3]
    assert not trial_processes(tmp_path)


def test_past_max_retries_a_lost_node_fails_the_trial_with_node_lost(tmp_path):
    (tmp_path / "hold").touch()
    # Two trials of two GPUs each: one on the head node, one on the last other node, which is lost.
    task = node_task(tmp_path, {"x": [0.1, 0.2]}, resources={"gpus": 2}, parallel=2,
                     executor=on_ray(max_retries=0))
    last = ray_cluster.workers()[0]

    def lose_a_node():
        wait_for(lambda: len(trial_processes(tmp_path)) == 2, what="two trials running")
        ray_cluster.remove(last)
        (tmp_path / "hold").unlink()

    raised = meanwhile(tmp_path, lose_a_node)
    _, report, _ = run(tmp_path, task)
    assert not raised, raised
    trials = report["trials"]
    assert sorted(t["status"] for t in trials) == ["completed", "failed"]
    [failed] = [t for t in trials if t["status"] == "failed"]
    assert failed["error"].startswith("node lost")
    assert not trial_processes(tmp_path)
