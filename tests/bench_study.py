"""Real studies of tests/fixtures/bench_trial.py (a serving-shaped benchmark) for the report and compare tests."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import cli, write_task

BENCH_TRIAL = Path(__file__).resolve().parent / "fixtures" / "bench_trial.py"


def bench_task(level: float = 100, noise: float = 0.0, **overrides) -> dict:
    task = {"name": "serving", "command": [sys.executable, str(BENCH_TRIAL)],
            "env": {"BENCH_LEVEL": str(level), "BENCH_NOISE": str(noise)},
            "parameters": {"threads": [1]}, "objective": "throughput", "strategy": {"name": "grid"}, "repeats": 3}
    task.update(overrides)
    return task


def run_study(directory: Path, task: dict) -> Path:
    """Run the task through the real CLI into directory/study; the study's path."""
    directory.mkdir(parents=True, exist_ok=True)
    result = cli("run", write_task(directory, task), "--study-dir", directory / "study")
    assert result.exit_code in (0, 1), result.stderr
    return directory / "study"


def report_json(study: Path) -> dict:
    result = cli("report", study, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)
