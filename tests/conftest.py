"""Shared helpers: write task files, run the real CLI in-process (CliRunner) or as a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autotune.cli import app
from autotune.report import build_report

ROOT = Path(__file__).resolve().parent.parent
FAKE_TRIAL = Path(__file__).resolve().parent / "fixtures" / "fake_trial.py"


def cli(*args: str):
    """Run `autotune ARGS` in-process; stdout and stderr stay apart."""
    return CliRunner().invoke(app, [str(a) for a in args])


def autotune_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "autotune", *map(str, args)]


def run_autotune(*args, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(autotune_cmd(*args), capture_output=True, text=True, timeout=timeout, **kwargs)


def write_task(directory: Path, task, name: str = "task.yaml") -> Path:
    """A task file from a dict (as YAML, or JSON for .json names) or from text as is."""
    path = directory / name
    if isinstance(task, str):
        path.write_text(task)
    elif name.endswith(".json"):
        path.write_text(json.dumps(task))
    else:
        path.write_text(yaml.safe_dump(task, sort_keys=False))
    return path


def fake_trial_task(**overrides) -> dict:
    """A valid task whose trials run tests/fixtures/fake_trial.py, a real subprocess."""
    task = {
        "name": "fake",
        "command": [sys.executable, str(FAKE_TRIAL)],
        "parameters": {"x": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25}, "mode": ["ok"]},
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": {"name": "grid"},
    }
    task.update(overrides)
    return task


def report_of(study) -> dict:
    """A study as its user sees it: `autotune report --format json` (status, trials, best, stats)."""
    return json.loads(json.dumps(build_report(study)))


def trials_of(study) -> list[dict]:
    return report_of(study)["trials"]


def processes_with(entry: str) -> list[int]:
    """The processes whose environment holds `entry` (NAME=value), found through /proc."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if entry.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def assert_one_line_error(result, code: int, *fragments: str) -> str:
    """The CLI exited `code` with one line on stderr holding every fragment, and no traceback."""
    stderr = result.stderr
    assert result.exit_code == code, (result.exit_code, result.stdout, stderr)
    assert "Traceback" not in stderr + result.stdout
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception
    assert len(stderr.strip().splitlines()) == 1, stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)
    return stderr


@pytest.fixture
def valid_task() -> dict:
    return {
        "name": "demo",
        "command": ["python", "bench.py", "--lr", "{lr}", "--bs", "{batch_size}"],
        "parameters": {
            "lr": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
            "batch_size": [16, 32, 64],
        },
        "objective": "eval_loss",
        "strategy": {"name": "random", "seed": 1},
    }


def seed_optimization(**optimization):
    """A mutation for `reject`: move strategy/objective into the seed's `optimization` block."""
    def mutate(task):
        for key in optimization:
            task.pop(key, None)
        task["optimization"] = optimization
    return mutate


@pytest.fixture
def reject(tmp_path, valid_task):
    """reject(mutate, *fragments): apply `mutate` to a valid task, validate it, expect exit 2 naming fragments."""
    def check(mutate, *fragments, name="task.yaml"):
        task = json.loads(json.dumps(valid_task))
        result = mutate(task)
        path = write_task(tmp_path, task if result is None else result, name)
        return assert_one_line_error(cli("validate", path), 2, str(path), *fragments)
    return check


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    os.environ.pop("AUTOTUNE_DEBUG", None)
