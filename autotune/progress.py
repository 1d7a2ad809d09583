"""Progress of a running study: a live rich bar on a terminal, plain one-line events anywhere else (CI).

Listeners are told of each event by the study loop; they read the study they are given (its task,
state and trials) and never change it.
"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .records import FINAL, Status


def format_params(params: dict) -> str:
    return " ".join(f"{k}={format_number(v)}" for k, v in params.items())


def format_number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def describe_values(task: Any, value) -> str:
    """The objective's value ("throughput 120"), or each objective's ("throughput 120, latency p90 0.8")."""
    if not isinstance(value, list):
        return f"{task.objective.metric} {format_number(value)}"
    return ", ".join(f"{o.label} {format_number(v)}" for o, v in zip(task.objectives, value))


def describe_result(study: Any, trial: dict) -> str:
    text = f"trial {trial['id']} {trial['status']}"
    if trial.get("duration_s") is not None:
        text += f" in {trial['duration_s']:.1f}s"
    if trial["status"] in (Status.COMPLETED, Status.INFEASIBLE, Status.PRUNED) and trial.get("value") is not None:
        text += f": {describe_values(study.task, trial['value'])}"
        score = trial.get("score")
        if score is not None:
            text += f", score {', '.join(map(format_number, score)) if isinstance(score, list) else format_number(score)}"
    if trial.get("error"):
        text += f" ({trial['error']})"
    return text


def describe_best(study: Any) -> str:
    """What the study has found so far: once finalists have decided, their re-measured answer."""
    front = study.front()
    if front:
        ids = [t["trial_id"] for t in front]
        return f"Pareto front {len(ids)} trials ({', '.join(map(str, ids[:8]))}{', ...' if len(ids) > 8 else ''})"
    answer = study.answer()  # None with several objectives
    if answer is None:
        return "no feasible trial yet" if study.status == "running" else "no feasible trial"
    remeasured = ", re-measured" if answer.get("remeasured") else ""
    return f"best trial {answer['trial_id']}: {describe_values(study.task, answer['value'])}{remeasured}"


def trials_done(study: Any) -> int:
    return study.trials.count(*FINAL)


class Listener:
    """Told of each event of a run; does nothing by default."""

    def message(self, text: str) -> None:
        pass

    def study_started(self, study: Any) -> None:
        pass

    def trial_started(self, study: Any, trial: dict) -> None:
        pass

    def trial_reported(self, study: Any, trial: dict) -> None:
        pass

    def trial_finished(self, study: Any, trial: dict) -> None:
        pass

    def study_finished(self, study: Any) -> None:
        pass


class Reporter(Listener):
    """Plain, line-per-event output: no control characters, safe for CI logs."""

    REPORT_EVERY = 30.0  # seconds between a trial's progress lines: an 81-epoch trial is one line, not 81

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.last_report: dict[int, float] = {}

    def message(self, text: str) -> None:
        print(f"autotune: {text}", file=self.stream, flush=True)

    def study_started(self, study: Any) -> None:
        self.message(f"study {study.name} in {study.dir}: strategy {study.strategy.describe()}, "
                     f"{trials_done(study)}/{study.budget['max_trials']} trials done")

    def trial_started(self, study: Any, trial: dict) -> None:
        gpus = f" on GPUs {','.join(trial['gpus'])}" if trial.get("gpus") else ""
        self.message(f"trial {trial['id']} started{gpus}: {format_params(trial['params'])}")

    def trial_reported(self, study: Any, trial: dict) -> None:
        now = time.monotonic()
        if now - self.last_report.get(trial["id"], -self.REPORT_EVERY) < self.REPORT_EVERY:
            return
        self.last_report[trial["id"]] = now
        value = trial["curve"][-1][1] if trial.get("curve") else None
        self.message(f"trial {trial['id']} step {trial['step']}: {study.task.objective.metric} {format_number(value)}")

    def trial_finished(self, study: Any, trial: dict) -> None:
        self.last_report.pop(trial["id"], None)
        self.message(f"{describe_result(study, trial)}; {describe_best(study)}")

    def study_finished(self, study: Any) -> None:
        counts = {s: study.trials.counts[s] for s in (Status.COMPLETED, Status.INFEASIBLE, Status.FAILED,
                                                       Status.PRUNED)}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != Status.PRUNED)
        self.message(f"study {study.status}: {summary}; {describe_best(study)}")


class LiveReporter(Reporter):
    """A rich progress bar with trials done, the best value so far and the ETA; events print above it."""

    def __init__(self, stream: TextIO | None = None):
        super().__init__(stream)
        self.console = Console(file=self.stream)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[best]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.console, transient=True)
        self.bar = None
        self.steps: dict[int, int | None] = {}  # running trials and the step each last reported

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def study_started(self, study: Any) -> None:
        super().study_started(study)
        self.progress.start()
        self.bar = self.progress.add_task(study.name, total=study.budget["max_trials"],
                                          completed=trials_done(study), best=describe_best(study))

    def trial_started(self, study: Any, trial: dict) -> None:
        self.steps[trial["id"]] = None
        self._show(study)

    def trial_reported(self, study: Any, trial: dict) -> None:
        self.steps[trial["id"]] = trial["step"]
        self._show(study)

    def trial_finished(self, study: Any, trial: dict) -> None:
        self.steps.pop(trial["id"], None)
        self.message(describe_result(study, trial))
        self._show(study)

    def _show(self, study: Any) -> None:
        """The best so far, and the step each running trial reached (early stopping)."""
        steps = " ".join(f"#{i} step {s}" for i, s in sorted(self.steps.items()) if s is not None)
        self.progress.update(self.bar, completed=trials_done(study), best=f"{describe_best(study)}  {steps}".rstrip())

    def study_finished(self, study: Any) -> None:
        self.progress.stop()
        super().study_finished(study)


def reporter_for(stream: TextIO | None = None) -> Reporter:
    stream = stream or sys.stderr
    return LiveReporter(stream) if stream.isatty() else Reporter(stream)
