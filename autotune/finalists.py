"""Finalists: after the budget, re-measure the best trials and judge whether the winner is clearly ahead."""
from __future__ import annotations

import statistics
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .objective import Objective, evaluate, run_values
from .records import ranked
from .storage import write_json
from .trial import TrialSpec

if TYPE_CHECKING:
    from .executors import Executor
    from .progress import Listener
    from .resources import SlotPool
    from .study import Study

WAKE_S = 0.5


def run_finalists(study: "Study", executor: "Executor", pool: "SlotPool | None", stop: threading.Event,
                  listener: "Listener") -> int:
    """Re-measure the best top_k trials `repeats` times each; each finalist is checkpointed, and an
    interrupted one is measured again on resume. Returns how many were measured now."""
    spec = study.task.finalists
    if spec is None:
        return 0
    measured = {f["trial_id"] for f in study.finalists if f["status"] != "interrupted"}
    ran = 0
    for trial in ranked(study.trials)[:spec.top_k]:
        if trial["id"] in measured:
            continue
        if stop.is_set():
            return ran
        listener.message(f"finalist: measuring trial {trial['id']} {spec.repeats} more times")
        run = TrialSpec(trial["id"], trial["params"], study.dir / "finalists" / f"{trial['id']:04d}", spec.repeats,
                        0, trial.get("gpus") and tuple(trial["gpus"]), label="finalist ")
        result = measure(executor, run, stop, study.task.kill_grace)
        entry = {"trial_id": trial["id"], "params": trial["params"], "status": "interrupted", "value": None,
                 "runs": [], "error": result["error"]}
        if result["status"] == "ok":
            outcome = evaluate(result["runs"], study.task.objective, study.task.slo, result.get("sources", ()))
            entry.update(status=outcome.status, value=outcome.value, runs=outcome.runs, error=outcome.error)
        elif result["status"] == "failed":
            entry["status"] = "failed"
        study.record_finalist(entry)
        if run.directory.is_dir():
            write_json(run.directory / "result.json", entry)
        study.commit()
        ran += 1
    if not stop.is_set():
        study.state["verdict"] = verdict(study.finalists, study.task.objective)
        listener.message(f"finalists: {study.state['verdict'] or 'too few measured to judge'}")
    return ran


def measure(executor: "Executor", spec: TrialSpec, stop: threading.Event, grace: float) -> dict:
    """Run one spec to its end (or stop it when `stop` is set) and return its result."""
    handle = executor.submit(spec)
    stopped = False
    while not handle.done():
        executor.wakeup.wait(WAKE_S)
        executor.wakeup.clear()
        handle.poll()
        if stop.is_set() and not stopped:
            handle.stop(grace)
            stopped = True
    return handle.result()


def verdict(finalists: Sequence[Mapping[str, Any]], objective: Objective) -> str | None:
    """'clear' when the finalist with the best median is better in every run than every other finalist in
    any run (their ranges do not overlap), else 'inconclusive'; None with fewer than two measured."""
    sign = 1 if objective.direction == "minimize" else -1
    measured = [[sign * v for v in run_values(f["runs"], objective)] for f in finalists if f["status"] == "completed"]
    measured = sorted((m for m in measured if m), key=statistics.median)
    if len(measured) < 2:
        return None
    winner, rest = measured[0], measured[1:]
    return "clear" if max(winner) < min(min(m) for m in rest) else "inconclusive"
