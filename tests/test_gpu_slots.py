"""GPU slots with pretend devices: each trial sees exactly its devices, no two running trials share one,
trials that fit side by side run side by side, and one that needs more than exist never starts."""
import json
import sys

from conftest import cli, report_of, write_task

# Each trial records what it was given and when it ran, then sleeps long enough to overlap with others.
RECORDER = ("import json, os, sys, time; start = time.time(); time.sleep(float(sys.argv[2]));"
            "given = {'arg': sys.argv[1], 'env': os.environ.get('CUDA_VISIBLE_DEVICES'),"
            " 'autotune': os.environ.get('AUTOTUNE_GPUS'), 'hip': os.environ.get('HIP_VISIBLE_DEVICES')};"
            "json.dump(given, open(os.path.join(os.environ['AUTOTUNE_TRIAL_DIR'], 'given.json'), 'w'));"
            "print(json.dumps({'loss': 1.0, 'start': start, 'end': time.time()}))")


def gpu_task(parameters, resources=None, sleep="0.8", **extra):
    task = {"name": "gpus", "command": [sys.executable, "-c", RECORDER, "{gpus}", sleep],
            "parameters": parameters, "objective": {"metric": "loss", "direction": "minimize"},
            "strategy": "grid", **extra}
    if resources is not None:
        task["resources"] = resources
    return task


def run(tmp_path, task, *flags):
    study = tmp_path / "s"
    result = cli("run", write_task(tmp_path, task), "--study-dir", study, *flags)
    assert result.exit_code in (0, 1), result.stderr
    report = report_of(study)
    for trial in report["trials"]:
        given = study / "trials" / f"{trial['id']:04d}" / "given.json"
        trial["given"] = json.loads(given.read_text()) if given.exists() else None
    return result, report


def overlapping(a, b):
    return a["metrics"]["start"] < b["metrics"]["end"] and b["metrics"]["start"] < a["metrics"]["end"]


def test_each_trial_sees_exactly_its_devices_and_none_are_shared(tmp_path):
    task = gpu_task({"x": [1, 2, 3, 4, 5, 6]}, {"gpus": 2})
    _, report = run(tmp_path, task, "--gpus", "0,1,2,3")
    trials = report["trials"]
    assert all(t["status"] == "completed" for t in trials)
    for t in trials:
        given = t["given"]
        assert len(t["gpus"]) == 2 and given["env"] == given["autotune"] == ",".join(t["gpus"])
        assert given["arg"] == ",".join(t["gpus"])  # the {gpus} placeholder
        assert t["gpus"] in (["0", "1"], ["2", "3"])  # the lowest free ones, contiguous
    for a in trials:
        for b in trials:
            if a["id"] < b["id"] and overlapping(a, b):
                assert not set(a["gpus"]) & set(b["gpus"]), (a["gpus"], b["gpus"])
    # 4 devices, 2 per trial: two trials ran side by side (parallel defaults to what the devices hold).
    assert any(overlapping(a, b) for a in trials for b in trials if a["id"] < b["id"])


def test_gpus_from_a_product_of_parameters_and_a_trial_that_cannot_fit(tmp_path):
    task = gpu_task({"tp": [1, 2, 8], "pp": [1, 2]}, {"gpus": "{tp}*{pp}", "devices": [0, 1, 2, 3],
                                                      "visible_devices_env": "HIP_VISIBLE_DEVICES"})
    _, report = run(tmp_path, task)
    by_params = {(t["params"]["tp"], t["params"]["pp"]): t for t in report["trials"]}
    for (tp, pp), t in by_params.items():
        if tp * pp > 4:
            assert t["status"] == "infeasible" and t["error"] == f"needs {tp * pp} GPUs, 4 available"
            assert t["gpus"] is None and t["duration_s"] is None  # never started
        else:
            assert t["status"] == "completed" and len(t["gpus"]) == tp * pp
            assert t["given"]["hip"] == ",".join(t["gpus"]) and t["given"]["env"] is None
    started = [e for e in map(json.loads, (tmp_path / "s" / "trials.jsonl").read_text().splitlines())
               if e["event"] == "started"]
    assert {tuple(e["params"].values()) for e in started} == {k for k in by_params if k[0] * k[1] <= 4}
    assert all(e["gpus"] is not None for e in started)  # the journal records each trial's devices


def test_gpus_zero_hides_every_device(tmp_path):
    task = gpu_task({"x": [1, 2]}, {"gpus": 0, "devices": [0, 1]}, sleep="0", parallel=2)
    _, report = run(tmp_path, task)
    assert [t["given"]["env"] for t in report["trials"]] == ["", ""]
    assert [t["gpus"] for t in report["trials"]] == [[], []]


def test_parallel_still_caps_trials_at_once(tmp_path):
    task = gpu_task({"x": [1, 2, 3]}, {"gpus": 1}, parallel=1)
    _, report = run(tmp_path, task, "--gpus", "0,1,2,3")
    trials = report["trials"]
    assert not any(overlapping(a, b) for a in trials for b in trials if a["id"] < b["id"])
    assert [t["gpus"] for t in trials] == [["0"]] * 3


def test_without_resources_nothing_is_placed(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    _, report = run(tmp_path, gpu_task({"x": [1]}, sleep="0"))
    [trial] = report["trials"]
    assert trial["gpus"] is None and trial["given"]["env"] == "7" and trial["given"]["autotune"] is None


def test_devices_auto_reads_the_visible_devices_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,6")
    _, report = run(tmp_path, gpu_task({"x": [1, 2]}, {"gpus": 1}, sleep="0"))
    assert [t["given"]["env"] for t in report["trials"]] == [t["gpus"][0] for t in report["trials"]]
    assert {t["gpus"][0] for t in report["trials"]} <= {"5", "6"}


def test_bad_gpu_flags_and_resources_are_input_errors(tmp_path):
    path = write_task(tmp_path, gpu_task({"x": [1]}))
    assert cli("run", path, "--gpus", "0,0", "--study-dir", tmp_path / "a").exit_code == 2
    bad = write_task(tmp_path, gpu_task({"x": [0.5, 1.5]}, {"gpus": "{x}"}), "bad.yaml")
    result = cli("validate", bad)
    assert result.exit_code == 2 and "resources.gpus" in result.stderr and "whole numbers" in result.stderr
