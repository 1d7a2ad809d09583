"""One frozen, typed Task from every accepted form: YAML or JSON, plain-list or structured parameters,
native or the seed's keys; durations in seconds or with units."""
import dataclasses
import json

import pytest

from autotune import load_task
from autotune.task import parse_duration
from conftest import write_task

NATIVE = {
    "name": "same",
    "command": ["run", "--mem", "{mem}", "--tp", "{tp}"],
    "parameters": {
        "tp": [1, 2],
        "policy": ["lpm", "fcfs"],
        "mem": {"type": "float", "low": 0.7, "high": 0.9, "step": 0.1},
        "seqs": {"type": "int", "low": 16, "high": 256, "log": True},
    },
    "objective": {"metric": "latency", "direction": "minimize"},
    "slo": {"ttft": {"threshold": 1.0}},
    "strategy": {"name": "tpe", "seed": 5, "n_startup_trials": 4},
    "budget": {"max_trials": 12},
}
SEED = {
    "task_name": "same",
    "command": ["run", "--mem", "{mem}", "--tp", "{tp}"],
    "parameters": {
        "tp": {"type": "categorical", "values": [1, 2]},
        "policy": {"type": "choice", "values": ["lpm", "fcfs"]},
        "mem": {"type": "continuous", "low": 0.7, "high": 0.9, "step": 0.1},
        "seqs": {"type": "integer", "low": 16, "high": 256, "log": True},
    },
    "slo": {"ttft": {"threshold": 1.0}},
    "optimization": {"strategy": "bayesian", "objective": "minimize_latency", "max_iterations": 12,
                     "n_initial_random": 4, "seed": 5},
}


def comparable(task):
    return {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.name != "source"}


def test_yaml_json_and_seed_forms_give_the_same_task(tmp_path):
    native_yaml = load_task(write_task(tmp_path, NATIVE, "native.yaml"))
    native_json = load_task(write_task(tmp_path, NATIVE, "native.json"))
    seed_json = load_task(write_task(tmp_path, SEED, "seed.json"))
    assert comparable(native_yaml) == comparable(native_json) == comparable(seed_json)
    assert native_yaml.space.describe() == seed_json.space.describe()


def test_task_is_frozen_and_typed(tmp_path):
    task = load_task(write_task(tmp_path, NATIVE))
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.name = "other"
    with pytest.raises(TypeError):
        task.strategy["seed"] = 1
    assert task.command == ("run", "--mem", "{mem}", "--tp", "{tp}")
    assert task.objective.value({"mean_e2e_latency": 2.0, "mean_ttft": 1.0}) == ("mean_e2e_latency", 2.0)
    assert task.strategy == {"name": "tpe", "seed": 5, "n_startup_trials": 4}
    assert task.budget.max_trials == 12
    assert task.workdir == tmp_path.resolve()


def test_values_keep_their_types(tmp_path):
    task = load_task(write_task(tmp_path, NATIVE))
    tp, policy, mem, seqs = task.space.params
    assert tp.values == (1, 2) and all(type(v) is int for v in tp.values)
    assert mem.grid() == (0.7, 0.8, 0.9) and all(type(v) is float for v in mem.grid())
    assert seqs.kind == "int" and seqs.log


def test_yaml_1_2_scalars(tmp_path):
    text = """
name: scalars
command: [serve, --flash-attn, "{fa}"]
parameters:
  fa: [on, off]
  lr: {type: float, low: 1e-5, high: 1e-1, log: true}
  flag: [true, false]
objective: throughput
"""
    task = load_task(write_task(tmp_path, text))
    fa, lr, flag = task.space.params
    assert fa.values == ("on", "off")
    assert lr.low == 1e-5 and lr.high == 0.1
    assert flag.values == (True, False)


def test_string_command_is_split_without_a_shell(tmp_path):
    task = load_task(write_task(tmp_path, {**NATIVE, "command": "run --name 'a b' --mem {mem} ; echo {tp}"}))
    assert task.command == ("run", "--name", "a b", "--mem", "{mem}", ";", "echo", "{tp}")


@pytest.mark.parametrize("value,seconds", [(90, 90.0), (2.5, 2.5), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0),
                                           ("1.5h", 5400.0), ("45", 45.0), (" 10 s ", 10.0)])
def test_durations(value, seconds):
    assert parse_duration(value, "timeout") == seconds


def test_durations_in_a_task(tmp_path):
    task = load_task(write_task(tmp_path, {**NATIVE, "timeout": "15m", "budget": {"max_time": "2h"}}))
    assert task.timeout == 900.0 and task.budget.max_time == 7200.0


def test_conflicting_seed_and_native_keys(tmp_path):
    from conftest import assert_one_line_error, cli
    path = write_task(tmp_path, {**SEED, "name": "x"}, "both.json")
    assert_one_line_error(cli("validate", path), 2, "task_name", "conflicts with name")
    path = write_task(tmp_path, {**SEED, "strategy": "random"}, "both2.json")
    assert_one_line_error(cli("validate", path), 2, "optimization.strategy", "conflicts")


def test_summary_line(tmp_path):
    from conftest import cli
    result = cli("validate", write_task(tmp_path, NATIVE), "--skip-programs")  # `run` is no program here
    assert result.exit_code == 0
    line = result.stdout.strip()
    assert "\n" not in line
    for part in ("same", "tp: choice(2)", "mem: float[0.7, 0.9, step 0.1]", "seqs: int[16, 256, log]",
                 "strategy tpe", "objective minimize latency", "max_trials 12"):
        assert part in line, part
    grid = cli("validate", write_task(tmp_path, {**NATIVE, "parameters": {"tp": [1, 2], "mem": [1, 2, 3]},
                                                 "strategy": "grid", "budget": {}}), "--skip-programs")
    assert "grid size 6" in grid.stdout and "max_trials 6" in grid.stdout
