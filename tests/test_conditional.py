"""Conditional parameters (`when:`): the space counts, indexes and checks only configurations that can
occur; a task is refused, one line naming the field, when it could fill a placeholder of an inactive
parameter; optional groups in a real command's argv; reports and `best --format args` without inactive
parameters."""
import json
import sys

import numpy as np
import pytest

from autotune import Space
from autotune.errors import SpecError
from conftest import FAKE_TRIAL, assert_one_line_error, cli, report_of, write_task

SPEC = {  # spec on has a token count; sched b and c have a knob, a has none; knob hi has a deep setting
    "spec": [True, False],
    "tokens": {"type": "int", "low": 1, "high": 3, "when": {"spec": True}},
    "sched": ["a", "b", "c"],
    "knob": {"type": "choice", "values": ["lo", "hi"], "when": {"sched": ["b", "c"]}},
    "deep": {"type": "int", "low": 0, "high": 1, "when": {"knob": "hi"}},  # a condition on a conditional one
    "m": [1, 2],
}


def expected_configs():
    """Every configuration that can occur, by brute force over the full product."""
    found = []
    for spec in (True, False):
        for tokens in ((1, 2, 3) if spec else (None,)):
            for sched in "abc":
                for knob in (("lo", "hi") if sched != "a" else (None,)):
                    for deep in ((0, 1) if knob == "hi" else (None,)):
                        for m in (1, 2):
                            config = {"spec": spec, "tokens": tokens, "sched": sched, "knob": knob, "deep": deep, "m": m}
                            found.append({k: v for k, v in config.items() if v is not None})
    return found


def test_a_finite_conditional_space_counts_and_indexes_only_what_can_occur():
    space = Space.from_spec(SPEC)
    expected = expected_configs()
    assert space.size == len(expected) == 4 * 7 * 2  # (3 tokens + off) x (a + b, c x (lo + hi x 2 deep)) x m
    configs = [space.config_at(i) for i in range(space.size)]
    assert sorted(map(json.dumps, configs)) == sorted(map(json.dumps, expected))
    for i, config in enumerate(configs):
        assert space.index_of(config) == i and space.contains(config)
        assert space.index_from_digits(space.digits(i)) == i
    digits = np.stack(space.digits(np.arange(space.size)), axis=1)
    assert [space.index_from_digits(row) for row in digits] == list(range(space.size))


@pytest.mark.parametrize("params", [
    {"spec": False, "tokens": 2, "sched": "a", "m": 1},               # an inactive parameter given
    {"spec": True, "sched": "a", "m": 1},                             # an active one missing
    {"spec": True, "tokens": 2, "sched": "a", "knob": "lo", "m": 1},  # knob is inactive for sched a
    {"spec": True, "tokens": 2, "sched": "b", "knob": "lo", "deep": 0, "m": 1},
    {"spec": True, "tokens": 9, "sched": "a", "m": 1},                # out of range
])
def test_contains_and_index_refuse_what_cannot_occur(params):
    space = Space.from_spec(SPEC)
    assert not space.contains(params) and space.index_of(params) is None


def test_sampling_gives_only_active_parameters_and_leaves_unconditional_spaces_alone():
    space = Space.from_spec(SPEC)
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert space.contains(space.sample(rng))
    plain = {k: {key: v for key, v in body.items() if key != "when"} if isinstance(body, dict) else body
             for k, body in SPEC.items()}
    flat = Space.from_spec(plain)
    assert flat.size == 2 * 3 * 3 * 2 * 2 * 2 and not flat.conditional


def task(tmp_path, command=None, **extra):
    body = {"name": "cond", "command": command or [sys.executable, str(FAKE_TRIAL), "--fixed", "1",
                                                   ["--tokens", "{tokens}"], ["--spec-mode", "on-{spec}"]],
            "parameters": {"spec": [True, False], "tokens": {"type": "int", "low": 1, "high": 3, "when": {"spec": True}},
                           "x": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.25}},
            "objective": {"metric": "loss", "direction": "minimize"}, "strategy": {"name": "grid"}, **extra}
    return write_task(tmp_path, body)


def test_grid_size_in_validate_counts_only_combinations_that_occur(tmp_path):
    result = cli("validate", task(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "grid size 12" in result.stdout and "tokens: int[1, 3] when spec=true" in result.stdout  # (3 + 1) x 3


def test_optional_groups_in_a_real_command(tmp_path):
    """Each trial's argv (written by the trial itself) holds --tokens N exactly when spec is on; params,
    the report and `best --format args` never name an inactive parameter."""
    result = cli("run", task(tmp_path, baseline={"spec": False, "x": 0.25}), "--study-dir", tmp_path / "s")
    assert result.exit_code == 0, result.stderr
    report = report_of(tmp_path / "s")
    assert len(report["trials"]) == 12  # the grid's size, the baseline first among them
    seen = set()
    for trial in report["trials"]:
        params = trial["params"]
        argv = json.loads((tmp_path / "s" / "trials" / f"{trial['id']:04d}" / "argv.json").read_text())
        if params["spec"]:
            assert argv == ["--fixed", "1", "--tokens", str(params["tokens"]), "--spec-mode", "on-true"]
        else:
            assert "tokens" not in params and argv == ["--fixed", "1", "--spec-mode", "on-false"]
        stored = json.loads((tmp_path / "s" / "trials" / f"{trial['id']:04d}" / "params.json").read_text())
        assert stored == params
        seen.add(json.dumps(params, sort_keys=True))
    assert len(seen) == 12
    table = cli("report", tmp_path / "s").stdout
    assert "tokens" in table
    best = report["best"]["params"]
    args = cli("best", tmp_path / "s", "--format", "args").stdout.split()
    assert ("--tokens" in args) == best["spec"] and "--spec" in args


def test_a_group_is_dropped_only_for_the_parameter_it_names(tmp_path):
    command = [sys.executable, str(FAKE_TRIAL), ["--tokens", "{tokens}"], ["--spec", "{spec}"]]
    result = cli("run", task(tmp_path, command=command), "--study-dir", tmp_path / "s")
    assert result.exit_code == 0, result.stderr
    for trial in report_of(tmp_path / "s")["trials"]:
        argv = json.loads((tmp_path / "s" / "trials" / f"{trial['id']:04d}" / "argv.json").read_text())
        spec = trial["params"]["spec"]
        assert argv == (["--tokens", str(trial["params"]["tokens"])] if spec else []) + ["--spec", str(spec).lower()]


@pytest.mark.parametrize("change,field,words", [
    (lambda t: t["parameters"].update(tokens={"type": "int", "low": 1, "high": 3, "when": {"later": 1}},
                                      later=[1, 2]),
     "parameters.tokens.when.later", "names no earlier parameter"),
    (lambda t: t.update(parameters={"x": t["parameters"]["x"], "tokens": {"type": "int", "low": 1, "high": 3,
                                                                           "when": {"x": 0.25}}}),
     "parameters.tokens.when.x", "names 'x', a float parameter; conditions name categorical ones"),
    (lambda t: t["parameters"]["tokens"].update(when={"spec": "yes"}), "parameters.tokens.when.spec",
     "is not one of spec's values (true, false)"),
    (lambda t: t["parameters"]["tokens"].update(when={}), "parameters.tokens.when", "must not be empty"),
    (lambda t: t.update(command=[sys.executable, "run.py", "--tokens", "{tokens}"]), "command[3]",
     "{tokens} can be inactive (it exists only when spec=true)"),
    (lambda t: t.update(command=f"{sys.executable} run.py --tokens {{tokens}}"), "command", "can be inactive"),
    (lambda t: t.update(command=[["--tokens", "{tokens}"], "run.py"]), "command[0]", "must be the program"),
    (lambda t: t.update(env={"TOKENS": "{tokens}"}), "env.TOKENS", "can be inactive"),
    (lambda t: t.update(baseline={"spec": False, "tokens": 2, "x": 0.0}), "baseline.tokens",
     "inactive in the baseline"),
    (lambda t: t.update(baseline={"spec": True, "x": 0.0}), "baseline", "missing a value for parameter 'tokens'"),
    (lambda t: t.update(resources={"gpus": "{tokens}"}), "resources.gpus", "can be inactive"),
    (lambda t: t.update(command=[sys.executable, "run.py", ["--n", "{nope}"]]), "command[2][1]",
     "placeholder {nope} names no parameter"),
])
def test_tasks_that_could_fill_an_inactive_parameter_are_refused(tmp_path, change, field, words):
    body = {"name": "cond", "command": [sys.executable, "run.py"],
            "parameters": {"spec": [True, False], "tokens": {"type": "int", "low": 1, "high": 3, "when": {"spec": True}},
                           "x": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.25}},
            "objective": {"metric": "loss", "direction": "minimize"}}
    change(body)
    path = write_task(tmp_path, body)
    assert_one_line_error(cli("validate", path, "--skip-programs"), 2, str(path), field, words)


def test_a_parameter_named_by_too_many_conditions_is_refused():
    spec = {f"c{i}": list(range(10)) for i in range(5)}
    spec["x"] = {"type": "int", "low": 0, "high": 1, "when": {f"c{i}": 0 for i in range(5)}}
    with pytest.raises(SpecError, match="more than 65536 combinations"):
        Space.from_spec(spec)
