"""Bad input at scale: mutated valid tasks, random bytes and deep nesting never give a traceback or an
exit code other than 0 or 2 (and a 2 is always one line naming the file)."""
import json
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from conftest import ROOT, cli, fake_trial_task

SEEDS = [json.loads(json.dumps(fake_trial_task(workdir=".")))] + [
    yaml.safe_load(p.read_text()) for p in sorted((ROOT / "tasks").glob("*.yaml"))
]
KEYS = st.sampled_from(["name", "command", "parameters", "objective", "strategy", "slo", "budget", "type",
                        "low", "high", "log", "step", "values", "threshold", "timeout", "repeats", "metric",
                        "x", "{x}", "", "task_name", "optimization", "service", "ready", "metrics", "file"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["{x}", "{port}", "1e-3", "15m", "-1s", "tpe", "grid"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=12)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, prefix + (i,))


@st.composite
def mutated_tasks(draw):
    task = json.loads(json.dumps(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(list(paths(task))))
        if not where:
            continue
        parent = task
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add", "rename"]))
        if action == "replace":
            parent[where[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[where[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(VALUES)
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(where[-1])
    return task


def check(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"task{suffix}"
        path.write_bytes(data)
        result = cli("validate", path)
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr, data[:300])
    assert "Traceback" not in result.stdout + result.stderr
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1 and "task" in result.stderr


# CI replays a fixed set of examples, so a submission is judged the same way each time; elsewhere every
# run explores new ones.
in_ci = seed(20261122) if os.environ.get("CI") else (lambda test: test)


@in_ci
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_tasks(), st.sampled_from([".yaml", ".json"]))
def test_mutated_valid_tasks(task, suffix):
    text = json.dumps(task, allow_nan=True) if suffix == ".json" else yaml.safe_dump(task, allow_unicode=True)
    check(text.encode(), suffix)


@in_ci
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400), st.sampled_from([".yaml", ".json", ".txt"]))
def test_random_bytes(data, suffix):
    check(data, suffix)


def test_deep_nesting():
    depth = 100_000
    for suffix, text in [(".yaml", "[" * depth + "]" * depth), (".json", "[" * depth + "]" * depth),
                         (".yaml", "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 2000))),
                         (".json", '{"name": "x", "parameters": {"p": ' + "[" * 5000 + "]" * 5000 + "}}")]:
        check(text.encode(), suffix)
    nested = {"name": "deep", "command": ["x"], "objective": "latency", "parameters": {"p": [1]}}
    cursor = nested
    for _ in range(500):
        cursor["slo"] = {}
        cursor = cursor["slo"]
    check(json.dumps(nested).encode(), ".json")
