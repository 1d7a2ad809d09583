"""Trials as calls of a Python function in this process: no command, no subprocess.

The function gets the trial's params and a context, returns its metrics (a dict, or a list of dicts:
batches), and may report progress with `context.report(step, **metrics)` and end early when
`context.stopped` is set. It makes the study loop's own tests fast, and suits tuning Python code.
"""
from __future__ import annotations

import importlib
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..storage import write_json
from ..trial import TrialSpec, outcome
from .base import Executor, ThreadHandle, TrialHandle, register


@dataclass
class TrialContext:
    id: int
    dir: Path
    devices: tuple[str, ...] | None
    stopped: threading.Event
    _report: Callable[[dict], None]

    def report(self, step: int, **metrics: float) -> None:
        self._report({"step": int(step), "values": {k: float(v) for k, v in metrics.items()}})


@register
class InlineExecutor(Executor):
    name = "inline"
    OPTIONS = ("function",)
    runs_commands = False

    def __init__(self, task, study_dir: Path, function: str | Callable | None = None, **options: Any):
        super().__init__(task, study_dir, **options)
        self.function = _resolve(function, task.workdir)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> str | None:
        function = options.get("function")
        if not isinstance(function, str) or not re.match(r"^[\w.]+:\w+$", function):
            return f"the inline executor needs `function: package.module:name`, got {function!r}"
        return None

    def submit(self, spec: TrialSpec) -> TrialHandle:
        return ThreadHandle(lambda stop, report: self._run(spec, stop, report), self.wakeup, self.task.kill_grace)

    def _run(self, spec: TrialSpec, stop: threading.Event, report: Callable[[dict], None]) -> dict:
        started = time.monotonic()
        spec.directory.mkdir(parents=True, exist_ok=True)
        write_json(spec.directory / "params.json", dict(spec.params))
        runs = []
        for k in range(spec.warmup + spec.repeats):
            context = TrialContext(spec.trial_id, spec.directory, spec.devices, stop,
                                   report if k == spec.warmup else lambda _: None)
            try:
                metrics = self.function(dict(spec.params), context)
            except Exception as e:  # noqa: BLE001 -- the function's failure is the trial's
                result = outcome("failed", runs, f"{spec.label}{type(e).__name__}: {e}")
                break
            if stop.is_set():
                result = outcome("stopped", runs, "stopped")
                break
            if k >= spec.warmup:
                runs.append([dict(m) for m in metrics] if isinstance(metrics, list) else [dict(metrics)])
        else:
            result = outcome("ok", runs, sources=["the function's return value"] * len(runs))
        result["duration_s"] = round(time.monotonic() - started, 3)
        return result


def _resolve(function: str | Callable | None, workdir: Path) -> Callable[[Mapping, TrialContext], Any]:
    """A callable, or "package.module:name" imported from the task's workdir (how tasks name it)."""
    if callable(function):
        return function
    problem = InlineExecutor.check_options({"function": function})
    if problem:
        raise InputError(f"executor: {problem}")
    module, _, attribute = function.partition(":")
    if str(workdir) not in sys.path:
        sys.path.insert(0, str(workdir))
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as e:
        raise InputError(f"executor.function: cannot import {function}: {e}") from None
    if not callable(found):
        raise InputError(f"executor.function: {function} is not callable")
    return found
