"""The study loop: ask, place, submit, follow the reports, score, tell, record; then the finalists.

It runs in the autotune process whatever the executor. A library caller stops it with an event (the
CLI sets one on SIGINT/SIGTERM): running trials are stopped, recorded as interrupted and re-run on
resume. Exit codes are the CLI's business; this returns what happened.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .executors import Executor, TrialHandle, create_executor
from .finalists import run_finalists
from .noise import NOISY, spread
from .objective import evaluate, run_values, score_report
from .progress import Listener
from .records import FINAL, Status, StudyStatus, new_trial
from .resources import SlotPool, detect_devices, gpus_needed
from .storage import write_json
from .study import Study, history_entry
from .trial import TrialSpec

WAKE_S = 0.5


@dataclass
class RunOutcome:
    status: StudyStatus
    launched: int              # trials (and finalist runs) started by this call
    reason: str | None = None  # why a study ended failed


@dataclass
class Running:
    trial: dict
    handle: TrialHandle
    devices: tuple[str, ...] | None
    last_report: dict | None = None
    pruned: bool = False
    interrupted: bool = False


@dataclass
class Placement:
    """Where trials run: the executor, the devices handed out, how many trials at once."""
    executor: Executor
    pool: SlotPool | None
    gpus: object = None          # per trial: int or factors; None without GPU placement
    parallel: int = 1


def run_study(study: Study, *, stop: threading.Event | None = None, listener: Listener | None = None,
              executor: Executor | None = None) -> RunOutcome:
    """Run until the budget is spent, the space is exhausted, trials keep failing, or `stop` is set."""
    return StudyLoop(study, stop or threading.Event(), listener or Listener(), executor).run()


def placement_for(study: Study, executor: Executor | None = None) -> Placement:
    task, chosen = study.task, study.state.get("placement", {})
    if executor is None:
        name = chosen.get("executor") or task.executor.name
        options = dict(task.executor.options) if name == task.executor.name else {}
        options.update(chosen.get("executor_options", {}))
        executor = create_executor(name, options, task, study.dir)
    devices, gpus = chosen.get("devices"), None
    if task.resources is not None:
        gpus = task.resources.gpus
        if devices is None:
            devices = (detect_devices(task.resources.visible_devices_env) if task.resources.devices == "auto"
                       else task.resources.devices)
    elif devices is not None:
        gpus = 1  # --gpus without a resources section: one device per trial
    pool = SlotPool(devices) if gpus is not None and not executor.assigns_devices else None
    parallel = study.state.get("parallel") or task.parallel
    if parallel is None:
        smallest = min_gpus(gpus, task)
        fits = pool.capacity(smallest) if pool is not None and smallest else executor.capacity(smallest)
        parallel = max(1, fits or 1)
    return Placement(executor, pool, gpus, parallel)


def min_gpus(gpus, task) -> int:
    """The fewest GPUs any trial can need, for the default number of trials at once."""
    if gpus is None or isinstance(gpus, int):
        return gpus or 0
    lowest = 1
    for factor in gpus:
        if isinstance(factor, int):
            lowest *= factor
        else:
            param = task.space.params[task.space.names.index(factor)]
            lowest *= min(param.values if hasattr(param, "values") else param.grid())
    return lowest


class StudyLoop:
    def __init__(self, study: Study, stop: threading.Event, listener: Listener, executor: Executor | None):
        self.study = study
        self.task = study.task
        self.stop = stop
        self.listener = listener
        self.place = placement_for(study, executor)
        self.executor = self.place.executor
        self.running: dict[int, Running] = {}
        self.waiting: dict | None = study.state.get("waiting")
        self.launched = 0

    def run(self) -> RunOutcome:
        study = self.study
        rerun = study.trials.unfinished()
        self.executor.recover()
        study.set_status(StudyStatus.RUNNING, None)
        study.commit()
        self.listener.study_started(study)
        try:
            self._search(rerun)
            if not self.stop.is_set() and study.state["stop_reason"] is None:
                self.launched += run_finalists(study, self.executor, self.place.pool, self.stop, self.listener)
        finally:
            self._stop_all()  # after a write error too: no trial is left running
            self.executor.close()
        reason = study.state["stop_reason"]
        status = StudyStatus.INTERRUPTED if self.stop.is_set() else StudyStatus.FAILED if reason else StudyStatus.COMPLETED
        study.set_status(status, reason)
        study.commit()
        self.listener.study_finished(study)
        return RunOutcome(status, self.launched, reason)

    # -- search ---------------------------------------------------------------------------------
    def _search(self, rerun: list[dict]) -> None:
        while True:
            while not self.stop.is_set() and len(self.running) < self.place.parallel:
                trial = self._next(rerun)
                if trial is None or not self._launch(trial):
                    break
            if not self.running:
                return
            self.executor.wakeup.wait(WAKE_S)
            self.executor.wakeup.clear()
            if self.stop.is_set():
                self._stop_all(wait=False)
            for trial_id in sorted(self.running):
                self._follow(self.running[trial_id])

    def _next(self, rerun: list[dict]) -> dict | None:
        """A trial to run: one left unfinished, the one waiting for devices, or a new one if the budget
        allows (the baseline first)."""
        if self.waiting is not None:
            return self.waiting
        if rerun:
            return rerun.pop(0)
        if not self._budget_left():
            return None
        state = self.study.state
        if self.task.baseline is not None and "baseline_id" not in state:
            params = dict(self.task.baseline)  # the strategy learns from it like any trial
            state["baseline_id"] = state["next_trial_id"]
        else:
            params = self.study.strategy.ask()
        if params is None:
            return None
        trial = {"id": state["next_trial_id"], "params": params}
        state["next_trial_id"] += 1
        return trial

    def _budget_left(self) -> bool:
        study = self.study
        budget = study.budget
        if study.state["next_trial_id"] >= budget["max_trials"]:
            return False
        if budget.get("max_time") and study.elapsed >= budget["max_time"]:
            return False
        return study.state["stop_reason"] is None

    def _launch(self, trial: dict) -> bool:
        """Start the trial where its devices are free; False when it must wait for some."""
        devices, need = None, None
        if self.place.gpus is not None:
            need = gpus_needed(self.place.gpus, trial["params"])
            if self.place.pool is not None:
                if need > self.place.pool.total:
                    self.waiting = self.study.state["waiting"] = None
                    self._infeasible(trial, f"needs {need} GPUs, {self.place.pool.total} available")
                    return True
                devices = self.place.pool.acquire(need)
                if devices is None:
                    self.waiting = self.study.state["waiting"] = trial
                    return False
        self.waiting = self.study.state["waiting"] = None
        record = new_trial(trial["id"], trial["params"])
        record["gpus"] = list(devices) if devices is not None else None
        self.study.record_started(record)
        spec = TrialSpec(record["id"], record["params"], trial_dir(self.study.dir, record["id"]), self.task.repeats,
                         self.task.warmup, devices, gpus=need or 0)
        self.running[record["id"]] = Running(record, self.executor.submit(spec), devices)
        self.launched += 1
        self.listener.trial_started(self.study, record)
        return True

    def _infeasible(self, trial: dict, reason: str) -> None:
        record = new_trial(trial["id"], trial["params"])
        self._record_end(record, {"status": Status.INFEASIBLE, "error": reason})

    def _follow(self, running: Running) -> None:
        """Journal and score the trial's new reports, ask the scheduler about each; take its result when done.
        Reports that arrive after the scheduler said stop are ignored: the trial ends where it was stopped,
        whatever the moment the signal lands, so a resumed study makes the same decisions."""
        study, trial = self.study, running.trial
        scored_on = self.task.early_stopping.objective or self.task.objective
        done = running.handle.done()  # before polling: a trial that ended has queued all its reports
        for report in running.handle.poll():
            if running.pruned:
                break
            _, value = self.task.objective.value(report["values"])
            score = score_report(report["values"], scored_on, self.task.slo)
            running.last_report = {**report, "value": value, "score": score}
            study.record_report(trial, report["step"], report["values"], value, score)
            self.listener.trial_reported(study, trial)
            decision = study.scheduler.on_report(trial["id"], report["step"], score)
            if decision == "stop" and not running.interrupted:
                running.pruned = True
                running.handle.stop(self.task.kill_grace)
        if done:
            del self.running[trial["id"]]
            if running.devices and self.place.pool is not None:
                self.place.pool.release(running.devices)
            self._record_end(trial, self._fields(running, running.handle.result()))

    def _fields(self, running: Running, result: dict) -> dict:
        """The trial's record fields from the executor's result: scored, pruned or interrupted."""
        base = {"duration_s": result.get("duration_s"), "step": running.trial.get("step")}
        if "gpus" in result:  # an executor that assigns devices itself (ray) says which at the end
            base["gpus"] = result["gpus"]
        if running.interrupted:
            return {**base, "status": Status.INTERRUPTED, "error": "interrupted"}
        if running.pruned or result["status"] == "stopped":  # pruned even if it ended before the signal landed
            last = running.last_report or {}
            return {**base, "status": Status.PRUNED, "value": last.get("value"), "score": last.get("score"),
                    "metrics": last.get("values", {}), "error": f"stopped early at step {last.get('step')}"}
        if result["status"] in ("failed", "infeasible"):
            return {**base, "status": Status(result["status"]), "error": result["error"]}
        outcome = evaluate(result["runs"], self.task.objectives, self.task.slo, result.get("sources", ()))
        return {**base, "status": Status(outcome.status), "value": outcome.value, "score": outcome.score,
                "metrics": outcome.metrics, "runs": outcome.runs, "error": outcome.error}

    def _record_end(self, trial: dict, fields: dict) -> None:
        study = self.study
        fields = {"value": None, "score": None, "metrics": {}, "runs": [], "error": None, "duration_s": None,
                  "step": trial.get("step"), **fields}
        study.record_finished(trial, fields)
        directory = trial_dir(study.dir, trial["id"])
        if directory.is_dir():
            write_json(directory / "metrics.json", trial["metrics"] or {})
            write_json(directory / "result.json", {"id": trial["id"], "params": trial["params"], **fields})
        if trial["status"] in FINAL:
            entry = history_entry(trial)
            study.strategy.tell(entry["params"], entry["score"], entry["status"], step=entry.get("step"))
            self._watch_failures(trial)
        study.scheduler.on_finish(trial["id"])
        study.commit()
        self.listener.trial_finished(study, trial)
        width = spread(run_values(trial["runs"], self.task.objective))
        if width is not None and width > NOISY:
            self.listener.message(f"trial {trial['id']}: its {len(trial['runs'])} runs spread {width:.0%}: the "
                                  "measurements are noisy; more repeats, finalists or a quieter machine help")

    def _watch_failures(self, trial: dict) -> None:
        """Stop a study whose trials keep failing, with the reason, rather than spend its budget on them."""
        study, budget, fail_fast = self.study, self.study.budget, self.task.budget.fail_fast
        failed = trial["status"] == Status.FAILED
        streak = study.state.get("failure_streak") or {"reason": None, "count": 0}
        reason = _pattern(trial["error"]) if failed else None
        streak = {"reason": reason, "count": streak["count"] + 1 if failed and reason == streak["reason"] else int(failed)}
        study.state["failure_streak"] = streak
        counts = study.trials.counts
        finished = sum(counts[s] for s in FINAL)
        why = None
        if budget.get("max_failed_trials") and counts[Status.FAILED] >= budget["max_failed_trials"]:
            why = f"{counts[Status.FAILED]} trials failed (budget.max_failed_trials)"
        elif fail_fast.first and finished == counts[Status.FAILED] == fail_fast.first:
            why = f"the first {fail_fast.first} trials all failed (budget.fail_fast.first)"
        elif fail_fast.streak and streak["count"] >= fail_fast.streak:
            why = f"{streak['count']} trials in a row failed for the same reason (budget.fail_fast.streak)"
        if why is not None and study.state["stop_reason"] is None:
            study.state["stop_reason"] = f"{why}; the last one: {trial['error']}"

    def _stop_all(self, wait: bool = True) -> None:
        for running in self.running.values():
            if not (running.pruned or running.interrupted):
                running.interrupted = True
                running.handle.stop(self.task.kill_grace)
        if wait:
            for trial_id in sorted(self.running):
                running = self.running[trial_id]
                running.handle.result()
                try:
                    self._follow(running)
                except Exception:  # noqa: BLE001 -- already failing (a full disk): stopping is what matters
                    pass
            self.running.clear()


def trial_dir(study_dir: Path, trial_id: int) -> Path:
    return study_dir / "trials" / f"{trial_id:04d}"


def _pattern(error: str | None) -> str:
    """A failure reason with its numbers masked, so "port 4312 in use" and "port 4313 in use" match."""
    return re.sub(r"\d+(?:\.\d+)?", "N", error or "")[:300]
