"""One trial on this machine: fill the placeholders, start the service, run the command (warm-up runs,
then the measured ones), pass on its progress reports, and read each run's metrics. Scoring is the
study's business; this returns what was measured, or why nothing was.

The local executor runs this in a thread; the Ray executor runs it on the node that holds the trial.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .metrics import MetricsError, read_metrics, read_tail
from .process import TRIAL_DIR_VAR, Process, Stopped, kill_group, run, terminate, wait_ready
from .progress_reports import ProgressFile, parse_report
from .resources import reserve_port
from .storage import write_json
from .templates import MAX_STEP, render, render_argv

if TYPE_CHECKING:
    from .task import Task

MAX_ERROR_DETAIL = 200
PROGRESS_FILE = "progress.jsonl"

Report = Callable[[dict], None]


@dataclass(frozen=True)
class TrialSpec:
    """What an executor needs to run a trial: which one, with what, where its files go, on which devices."""
    trial_id: int
    params: Mapping[str, Any]
    directory: Path                        # on the machine running autotune
    repeats: int = 1
    warmup: int = 0
    devices: tuple[str, ...] | None = None  # None: no GPU placement
    gpus: int = 0                          # how many, for executors that assign the devices themselves
    label: str = ""                        # "finalist run 2": says which run a failure reason is about


def outcome(status: str, runs: list | None = None, error: str | None = None, sources: list | None = None) -> dict:
    """An executor's raw result: ok | failed | stopped, each measured run's metric batches and where they
    were read from, why not ok."""
    return {"status": status, "runs": runs or [], "error": error, "sources": sources or []}


def unmeasured(status: str, error: str) -> dict:
    """A finished trial's result without a duration: it never ran, or its end was not seen."""
    return {**outcome(status, error=error), "duration_s": None}


def run_trial(task: "Task", spec: TrialSpec, study_dir: Path, directory: Path, stop: threading.Event,
              report: Report) -> dict:
    """Run the trial in `directory` (the study's trial directory, or a node's own with Ray). Never raises
    for a misbehaving trial: that is a failed trial."""
    started = time.monotonic()
    shutil.rmtree(directory, ignore_errors=True)  # a re-run starts clean
    directory.mkdir(parents=True)
    write_json(directory / "params.json", dict(spec.params))
    values = {**spec.params, "trial.id": spec.trial_id, "trial.dir": str(directory), "study.dir": str(study_dir),
              "port": reserve_port(), "gpus": ",".join(spec.devices or ())}
    if MAX_STEP in task.early_stopping.options and MAX_STEP not in spec.params:
        values[MAX_STEP] = task.early_stopping.options[MAX_STEP]
    # `python` in a task is the interpreter autotune runs in, with its packages, venv activated or not.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, **{k: render(v, values) for k, v in task.env.items()},
           "AUTOTUNE_TRIAL_ID": str(spec.trial_id), TRIAL_DIR_VAR: str(directory),
           "AUTOTUNE_PARAMS": json.dumps(dict(spec.params)),
           "AUTOTUNE_PROGRESS_FILE": str(directory / PROGRESS_FILE)}
    if spec.devices is not None:
        devices = ",".join(spec.devices)
        env["AUTOTUNE_GPUS"] = devices
        env[task.resources.visible_devices_env] = devices
    result = _with_service(task, directory, values, env, spec, stop, report)
    result["duration_s"] = round(time.monotonic() - started, 3)
    return result


def _with_service(task: "Task", directory: Path, values: dict, env: dict, spec: TrialSpec, stop: threading.Event,
                  report: Report) -> dict:
    service = task.service
    if service is None:
        return _runs(task, directory, values, env, None, spec, stop, report)
    log = directory / "service.log"
    argv = render_argv(service.command, values)
    service_env = {**env, **{k: render(v, values) for k, v in service.env.items()}}
    try:
        proc = Process(argv, cwd=task.workdir, env=service_env, stdout=log)
    except OSError as e:
        return outcome("failed", error=f"service could not start {argv[0]!r}: {e.strerror or e}")
    try:
        if service.ready is not None:
            ready = service.ready
            probe = replace(ready, http=ready.http and render(ready.http, values),
                            tcp=ready.tcp and render(ready.tcp, values))
            wait_ready(proc, probe, log, stop)
        return _runs(task, directory, values, env, proc, spec, stop, report)
    except Stopped:
        return outcome("stopped", error="stopped")
    except RuntimeError as e:
        return outcome("failed", error=str(e) + _detail(log, 0))
    finally:
        terminate(proc, service.stop_timeout)
        kill_group(proc.pid, 9)


def _runs(task: "Task", directory: Path, values: dict, env: dict, service: Process | None, spec: TrialSpec,
          stop: threading.Event, report: Report) -> dict:
    """`warmup` runs whose metrics are discarded, then `repeats` measured runs; the first measured run's
    progress reports go to the scheduler (later repeats would report the same steps again)."""
    argv = render_argv(task.command, values)
    stdout, stderr = directory / "stdout.log", directory / "stderr.log"
    batches, sources = [], []
    total = spec.warmup + spec.repeats
    for k in range(total):
        name = f"warmup-{k + 1}" if k < spec.warmup else f"run-{k - spec.warmup + 1}"
        metrics_file = directory / f"{name}.json"
        offset, err_offset, since = _size(stdout), _size(stderr), time.time()
        reporting = k == spec.warmup
        progress = ProgressFile(directory / PROGRESS_FILE, report) if reporting else None
        on_line = (lambda line: _report_line(line, report)) if reporting else None
        result = run(argv, cwd=task.workdir, env={**env, "AUTOTUNE_METRICS_FILE": str(metrics_file)},
                     stdout=stdout, stderr=stderr, stop=stop, kill_grace=task.kill_grace, timeout=task.timeout,
                     on_line=on_line, on_tick=progress and progress.read)
        where = spec.label + (f"{name.replace('-', ' ')}: " if total > 1 else "")
        if result.stopped:
            return outcome("stopped", batches, "stopped")
        if result.error:
            return outcome("failed", batches, where + result.error + _detail(stderr, err_offset))
        if service is not None and service.poll() is not None:
            return outcome("failed", batches, where + "service exited during the run" + _detail(directory / "service.log", 0))
        if k < spec.warmup:
            continue
        try:
            found, source = read_metrics(task.metrics, directory, metrics_file, read_tail(stdout, offset), since)
        except MetricsError as e:
            return outcome("failed", batches, where + str(e))
        batches.append(found)
        sources.append(source)
    return outcome("ok", batches, sources=sources)


def _report_line(line: bytes, report: Report) -> None:
    found = parse_report(line)
    if found is not None:
        report(found)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _detail(log: Path, offset: int) -> str:
    """': <last line the process wrote>' to make a failure reason actionable."""
    lines = [line.strip() for line in read_tail(log, offset, 8192).splitlines() if line.strip()]
    return f": {lines[-1][:MAX_ERROR_DETAIL]}" if lines else ""

