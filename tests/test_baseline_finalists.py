"""warmup, baseline first, the spread of repeats, and finalists with a verdict, on real runs."""
import json
import os
import sys
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


def test_a_baseline_nothing_beat_is_said_to_be_the_best(tmp_path):
    study, _ = run(tmp_path, counting_task(baseline={"x": 0.0}))
    assert report(study)["best"]["trial_id"] == 0
    assert "Best vs baseline (trial 0): the baseline is the best found" in report(study, "markdown")


def test_baseline_with_tpe(tmp_path):
    task = counting_task(baseline={"x": 0.5}, strategy={"name": "tpe", "seed": 1, "n_startup_trials": 2},
                         budget={"max_trials": 4})
    _, state = run(tmp_path, task)
    assert state["trials"][0]["params"] == {"x": 0.5}
    assert len({t["params"]["x"] for t in state["trials"]}) == 4


def test_finalists_clearly_ahead(tmp_path):
    study, state = run(tmp_path, counting_task(finalists={"top_k": 3, "repeats": 2}))
    assert [f["trial_id"] for f in state["finalists"]] == [0, 1, 2]
    assert all(len(f["runs"]) == 2 and f["search_value"] == f["value"] for f in state["finalists"])
    data = report(study)
    assert data["verdict"] == "clear" and data["best"]["trial_id"] == 0 and data["best"]["remeasured"]
    assert {"trial_id", "params", "value", "runs"} <= set(data["finalists"][0])
    assert (study / "finalists" / "0000" / "result.json").exists()
    markdown = report(study, "markdown")
    assert "Verdict: clear: trial 0 beat every other finalist in all 2 runs each (non-overlapping ranges)" in markdown
    assert "trial 1 0.25 in the search, 0.25 (0.25-0.25) re-measured" in markdown


def test_finalists_within_noise_are_inconclusive_and_say_what_to_do(tmp_path):
    study, state = run(tmp_path, counting_task(noise=1.0, finalists={"top_k": 3, "repeats": 3}))
    assert state["verdict"] == "inconclusive"
    markdown = report(study, "markdown")
    assert "within the noise of 3 runs" in markdown and "more repeats" in markdown
    assert "Noise: measurements are noisy" in markdown


def run_order(study):
    return [line.split() for line in (study / "order").read_text().splitlines()]


ORDERED = ("import json, os, sys; open(os.path.join(os.environ['STUDY'], 'order'), 'a').write("
           "sys.argv[1] + ' ' + os.environ['AUTOTUNE_TRIAL_DIR'].split('/')[-2] + '\\n');"
           "print(json.dumps({'loss': float(sys.argv[1])}))")


def test_finalists_runs_are_interleaved_and_the_baseline_is_measured_with_them(tmp_path):
    task = counting_task(command=["python", "-c", ORDERED, "{x}"], baseline={"x": 1.0},
                         finalists={"top_k": 2, "repeats": 3})
    study, data = run(tmp_path, task)
    finals = [x for x, _ in run_order(study)][5:]
    assert finals == ["0.0", "0.25", "1.0"] * 3  # A B C A B C: the baseline (trial 0, x=1) in the same rounds
    assert data["baseline"]["remeasured"] and len(data["baseline"]["runs"]) == 3
    assert "Best vs baseline (trial 0): -100.0% loss (both re-measured)" in report(study, "markdown")


def test_interleave_false_keeps_each_finalists_runs_together(tmp_path):
    task = counting_task(command=["python", "-c", ORDERED, "{x}"], finalists={"top_k": 2, "repeats": 2,
                                                                              "interleave": False})
    study, _ = run(tmp_path, task)
    assert [x for x, _ in run_order(study)][5:] == ["0.0", "0.0", "0.25", "0.25"]


# A configuration that measured lucky in the search: its first run ever reports far better than it is.
LUCKY = ("import json, os, sys; x = float(sys.argv[1]); seen = os.path.join(os.environ['STUDY'], f'seen-{x}');"
         "first = not os.path.exists(seen); open(seen, 'w').close();"
         "print(json.dumps({'loss': x - 1.0 if first and x == 0.5 else x, 'mean_ttft': 3.0 if x == 0.25 else 1.0}))")


def test_the_re_measurement_decides_the_answer_everywhere(tmp_path):
    task = counting_task(command=["python", "-c", LUCKY, "{x}"], finalists={"top_k": 3, "repeats": 2},
                         parameters={"x": [0.0, 0.25, 0.5, 1.0]})
    study = tmp_path / "s"
    log = cli("run", write_task(tmp_path, task), "--study-dir", study).stderr.splitlines()
    data = report_of(study)
    # the log's last lines give the answer, not the search's lucky leader
    assert log[-3].startswith("autotune: study completed") and "best trial 0: loss 0, re-measured" in log[-3]
    assert log[-2].startswith("autotune: best: trial 0, loss 0, re-measured")
    search_best = min((t for t in data["trials"] if t["status"] == "completed"), key=lambda t: t["score"])
    assert search_best["params"] == {"x": 0.5}  # lucky in the search
    assert data["best"]["params"] == {"x": 0.0} and data["best"]["remeasured"]
    assert json.loads(cli("best", study, "--format", "json").stdout) == {"x": 0.0}
    markdown = report(study, "markdown")
    assert "Best: trial 0, loss 0 (0-0), re-measured" in markdown
    assert "trial 2: -0.5 in the search, 0.5 re-measured" in markdown  # named: its search value was not typical
    result = run_autotune("resume", study)  # nothing left; the answer stays
    assert result.returncode == 0 and report(study)["best"]["params"] == {"x": 0.0}


def test_the_verdict_applies_slos_to_the_re_measured_runs(tmp_path):
    """x=0.25 wins on loss once the lucky x=0.5 is re-measured, unless its TTFT misses the SLO."""
    task = counting_task(command=["python", "-c", LUCKY, "{x}"], finalists={"top_k": 3, "repeats": 2},
                         parameters={"x": [0.25, 0.5, 1.0]},
                         slo={"ttft": {"threshold": 2.0, "hard_fail": True, "fail_ratio": 0.2}})
    study, data = run(tmp_path, task)
    by_id = {f["trial_id"]: f for f in data["finalists"]}
    assert [f["status"] for f in by_id.values()].count("completed") == 2
    assert data["best"]["params"] == {"x": 0.5}  # 0.25 is infeasible (TTFT 3 s against 2 s)


def test_an_interrupted_finalist_is_measured_again_on_resume(tmp_path):
    """kill -9 between finalist runs: resume measures the rest, keeping the runs already journaled."""
    path = write_task(tmp_path, counting_task(command=["python", "-c", ORDERED, "{x}"],
                                              finalists={"top_k": 2, "repeats": 2}))
    study = tmp_path / "s"
    env = {**os.environ, "RUN_SECONDS": "0.3"}
    proc = subprocess.Popen(autotune_cmd("run", path, "--study-dir", study), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(e["event"] == "finalist_run"
                                                  for e in read_journal(study / "trials.jsonl").events):
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert report(study)["finalists"] == []  # not decided yet
    result = run_autotune("resume", study, env=env)
    assert result.returncode == 0, result.stderr
    data = report(study)
    assert [f["trial_id"] for f in data["finalists"]] == [0, 1] and all(len(f["runs"]) == 2 for f in data["finalists"])
    assert data["verdict"] == "clear" and len(data["trials"]) == 5
    # Runs journaled before the kill are kept; at most the one the kill cut short is measured again.
    assert 5 + 4 <= len(run_order(study)) <= 5 + 4 + 1


# CPU work done in 0.3 s, scaled by the configuration's quality; configuration c measures lucky (six times its
# worth) the first time it ever runs, as a busy machine's single measurement can.
WORK = ("import json, os, sys, time; cfg = sys.argv[1]; q = {'a': 1.0, 'b': 3.0, 'c': 1.0}[cfg];"
        "seen = os.path.join(os.environ['STUDY'], 'seen-' + cfg); lucky = cfg == 'c' and not os.path.exists(seen);"
        "open(seen, 'w').close(); n, end = 0, time.perf_counter() + 0.3;"
        "exec('while time.perf_counter() < end:\\n n += 1');"
        "print(json.dumps({'throughput': n / 0.3 * q * (6 if lucky else 1)}))")


def test_with_a_cpu_hog_beside_it_the_answer_is_the_re_measured_winner(tmp_path):
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        task = counting_task(command=["python", "-c", WORK, "{cfg}"], parameters={"cfg": ["a", "b", "c"]},
                             objective={"metric": "throughput", "direction": "maximize"},
                             finalists={"top_k": 3, "repeats": 3})
        study, data = run(tmp_path, task)
    finally:
        hog.kill()
        hog.wait()
    search = {t["params"]["cfg"]: t["value"] for t in data["trials"]}
    assert max(search, key=search.get) == "c"  # the lucky single measurement led the search
    again = {f["params"]["cfg"]: f["value"] for f in data["finalists"]}
    assert data["best"]["params"] == {"cfg": max(again, key=again.get)} == {"cfg": "b"}
    assert json.loads(cli("best", study, "--format", "json").stdout) == {"cfg": "b"}


def test_noisy_repeats_are_called_noisy_in_the_log_and_the_report(tmp_path):
    study = tmp_path / "s"
    result = cli("run", write_task(tmp_path, counting_task(noise=0.2, parameters={"x": [1.0]}, repeats=3)),
                 "--study-dir", study)
    assert "trial 0: its 3 runs spread 50%" in result.stderr
    assert "Noise: measurements are noisy (spread over runs: trial 0 50% over its repeats)" in report(study, "markdown")
    quiet = tmp_path / "q"
    cli("run", write_task(tmp_path, counting_task(noise=0.01, parameters={"x": [1.0]}, repeats=3), "q.yaml"),
        "--study-dir", quiet)
    assert "Noise" not in report(quiet, "markdown")
