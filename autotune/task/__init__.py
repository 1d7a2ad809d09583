"""Task loading: a YAML or JSON task file, in the native or the seed's form, checked against the JSON
Schema and then the semantic rules, turned into one frozen, typed Task.

files (reading, YAML 1.2) -> schema (structure) -> seed_form (aliases) -> build (semantics) -> model (Task);
durations parses 90s / 15m / 2h; placeholders are autotune.templates' (trials fill them too).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import SpecError, TaskError
from ..executors import EXECUTORS
from .build import build_task
from .commands import check_executables
from .durations import format_duration, parse_duration
from .files import read_task_file
from .model import (Budget, EarlyStopping, ExecutorSpec, FailFast, Finalists, MetricsSpec, Ready, Resources, Service,
                    Task)
from ..templates import render, render_scalar

__all__ = ["Budget", "EarlyStopping", "ExecutorSpec", "FailFast", "Finalists", "MetricsSpec", "Ready", "Resources",
           "Service", "Task", "format_duration", "load_task", "parse_duration", "render", "render_scalar"]


def load_task(path: str | Path, workdir: str | Path | None = None, check_programs: bool = False) -> Task:
    """Read, check and build a Task; `workdir` overrides the task's (a study keeps its absolute one).
    `check_programs`: also check that the command's and service's programs exist here (validate, run)."""
    path = Path(path)
    raw = read_task_file(path)
    try:
        task = build_task(raw, path, workdir)
        if check_programs and EXECUTORS[task.executor.name].runs_here:
            check_executables(task)
        return task
    except SpecError as e:
        raise TaskError(str(path), e.message, e.path) from None
