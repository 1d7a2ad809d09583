"""The study loop: ask the strategy, run trials, score them, tell the strategy, checkpoint after each one.

A study lives in a directory; its checkpoint is the whole state, so `resume` continues exactly where a
killed run stopped: trials that were running are re-run with their params and the strategy, restored
with its random generator, proposes the same sequence as an uninterrupted run would.
"""
from __future__ import annotations

import hashlib
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .objective import verdict
from .executor import Executor, kill_leftovers
from .storage import CHECKPOINT, LOG, StudyLock, append_jsonl, read_checkpoint, write_checkpoint
from .strategies import create_strategy, restore_strategy
from .task import Task, load_task
from .trial import TrialRunner

if TYPE_CHECKING:
    from .progress import Reporter

FORMAT_VERSION = 1
TASK_COPY = "task.yaml"
TOLD = ("completed", "infeasible", "failed")
RERUN = ("running", "interrupted")
EXIT_INTERRUPTED = 130
# What a `run` killed before its first checkpoint leaves; such a directory is not a study and may be reused.
CREATION_LEFTOVERS = {TASK_COPY, ".lock", f".{CHECKPOINT}.tmp"}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def best_trial(trials: list[dict]) -> dict | None:
    """The completed trial with the lowest score, ties to the lowest id."""
    done = [t for t in trials if t["status"] == "completed" and t.get("score") is not None]
    return min(done, key=lambda t: (t["score"], t["id"])) if done else None


def default_study_dir(name: str, root: Path = Path("studies")) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = root / f"{name}-{stamp}", 1
    while candidate.exists():
        n += 1
        candidate = root / f"{name}-{stamp}-{n}"
    return candidate


class Study:
    def __init__(self, directory: Path, task: Task, state: dict, lock: StudyLock):
        self.dir = directory
        self.task = task
        self.state = state
        self.lock = lock
        history = [{"params": t["params"], "score": t["score"], "status": t["status"]} for t in state["trials"]
                   if t["status"] in TOLD]
        self.strategy = restore_strategy(state["strategy"], task.space, history)
        self._session_start = time.monotonic()
        self._elapsed_before = state.get("elapsed_s", 0.0)

    # -- creating and opening ------------------------------------------------------------------
    @classmethod
    def create(cls, task_path: str | Path, study_dir: str | Path | None = None, *, max_trials: int | None = None,
               max_time: float | None = None, parallel: int | None = None, seed: int | None = None) -> "Study":
        """A new study directory holding the task and a first checkpoint, before any trial starts."""
        task = load_task(task_path)
        directory = Path(study_dir) if study_dir else default_study_dir(task.name)
        if (directory / CHECKPOINT).exists():
            raise InputError(f"{directory}: already holds a study; continue it with `autotune resume {directory}`")
        if directory.exists() and (not directory.is_dir() or
                                   any(p.name not in CREATION_LEFTOVERS for p in directory.iterdir())):
            raise InputError(f"{directory}: exists and is not an empty directory; choose another --study-dir")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{directory}: cannot create the study directory: {e.strerror or e}") from None
        directory = directory.resolve()
        lock = StudyLock(directory).acquire()
        text = Path(task_path).read_bytes()
        (directory / TASK_COPY).write_bytes(text)
        spec = dict(task.strategy) if seed is None else {**task.strategy, "seed": seed}
        budget = {"max_trials": max_trials or task.max_trials,
                  "max_time": max_time or task.budget.max_time,
                  "max_failed_trials": task.budget.max_failed_trials}
        strategy = create_strategy(spec, task.space, max_trials=budget["max_trials"])
        state = {
            "format_version": FORMAT_VERSION, "name": task.name,
            "task_sha256": hashlib.sha256(text).hexdigest(), "task_path": str(task.source),
            "workdir": str(task.workdir), "objective": task.objective.to_json(),
            "strategy": strategy.state(), "budget": budget, "parallel": parallel or task.parallel,
            "status": "running", "next_trial_id": 0, "elapsed_s": 0.0,
            "created_at": now_iso(), "updated_at": now_iso(), "trials": [],
        }
        study = cls(directory, task, state, lock)
        study.save()
        return study

    @classmethod
    def open(cls, study_dir: str | Path, force: bool = False) -> "Study":
        """An existing study, locked for this process; refuses one whose task.yaml changed unless forced."""
        directory = Path(study_dir).resolve()
        read_checkpoint(directory)  # a clear error for a directory that is not a study, before locking
        lock = StudyLock(directory).acquire()
        try:
            state = read_checkpoint(directory)
            try:
                text = (directory / TASK_COPY).read_bytes()
            except OSError as e:
                raise InputError(f"{directory / TASK_COPY}: cannot be read: {e.strerror or e}") from None
            if hashlib.sha256(text).hexdigest() != state["task_sha256"]:
                if not force:
                    raise InputError(f"{directory / TASK_COPY}: changed since the study began (sha256 differs); "
                                     "restore it, or pass --force to continue with the file as it is now")
                state["task_sha256"] = hashlib.sha256(text).hexdigest()
            task = load_task(directory / TASK_COPY, workdir=state["workdir"])
            return cls(directory, task, state, lock)
        except BaseException:
            lock.release()
            raise

    def close(self) -> None:
        self.lock.release()

    # -- state --------------------------------------------------------------------------------
    @property
    def trials(self) -> list[dict]:
        return self.state["trials"]

    @property
    def elapsed(self) -> float:
        return self._elapsed_before + (time.monotonic() - self._session_start)

    def save(self) -> None:
        self.state["strategy"] = self.strategy.state()
        self.state["elapsed_s"] = round(self.elapsed, 3)
        self.state["updated_at"] = now_iso()
        write_checkpoint(self.dir, self.state)

    def count(self, status: str) -> int:
        return sum(t["status"] == status for t in self.trials)

    def set_budget(self, max_trials: int | None = None, max_time: float | None = None) -> None:
        if max_trials is not None:
            self.state["budget"]["max_trials"] = max_trials
        if max_time is not None:
            self.state["budget"]["max_time"] = max_time

    def _budget_left(self) -> bool:
        budget = self.state["budget"]
        if len(self.trials) >= budget["max_trials"]:
            return False
        if budget.get("max_time") and self.elapsed >= budget["max_time"]:
            return False
        return not self._failed_limit_reached()

    def _failed_limit_reached(self) -> bool:
        limit = self.state["budget"].get("max_failed_trials")
        return bool(limit) and self.count("failed") >= limit

    # -- the loop -----------------------------------------------------------------------------
    def run(self, reporter: "Reporter") -> int:
        """Run until the budget is spent, the space is exhausted, or a signal; return the exit code."""
        was_completed = self.state["status"] == "completed"
        kill_leftovers(self.dir / "trials")
        rerun = sorted((t for t in self.trials if t["status"] in RERUN), key=lambda t: t["id"])
        stop = threading.Event()
        previous = _install_signal_handlers(stop)
        launched = 0
        try:
            self.state["status"] = "running"
            self.save()
            reporter.study_started(self)
            runner = TrialRunner(self.task, self.dir, Executor(stop, self.task.kill_grace))
            parallel = self.state["parallel"]
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                running: dict[Any, dict] = {}
                while True:
                    while not stop.is_set() and len(running) < parallel:
                        trial = rerun.pop(0) if rerun else self._new_trial()
                        if trial is None:
                            break
                        self._started(trial, reporter)
                        running[pool.submit(runner.run, trial["id"], trial["params"])] = trial
                        launched += 1
                    if not running:
                        break
                    done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: running[f]["id"]):
                        self._finished(running.pop(future), future.result(), reporter)
            if not stop.is_set() and not self._failed_limit_reached():
                launched += self._run_finalists(runner, stop, reporter)
        finally:
            _restore_signal_handlers(previous)
        if stop.is_set():
            self.state["status"] = "interrupted"
        elif self._failed_limit_reached():
            self.state["status"] = "failed"
        else:
            self.state["status"] = "completed"
        self.save()
        reporter.study_finished(self)
        if launched == 0 and was_completed:
            reporter.message("nothing left to run: the budget is spent or every configuration was tried "
                             "(raise --max-trials or --max-time to continue)")
            return 0
        if stop.is_set():
            return EXIT_INTERRUPTED
        return 0 if self.state["status"] == "completed" and best_trial(self.trials) else 1

    def _new_trial(self) -> dict | None:
        if not self._budget_left():
            return None
        if self.task.baseline is not None and "baseline_id" not in self.state:
            params = dict(self.task.baseline)  # evaluated first; the strategy learns from it like any trial
            self.state["baseline_id"] = self.state["next_trial_id"]
        else:
            params = self.strategy.ask()
        if params is None:
            return None
        trial = {"id": self.state["next_trial_id"], "params": params, "status": "running", "value": None,
                 "score": None, "metrics": {}, "runs": [], "error": None}
        self.state["next_trial_id"] += 1
        self.trials.append(trial)
        return trial

    def _run_finalists(self, runner: TrialRunner, stop: threading.Event, reporter: "Reporter") -> int:
        """Re-measure the best top_k trials `repeats` times each, then judge whether the winner is clearly
        ahead. Each finalist is checkpointed; an interrupted one is measured again on resume."""
        spec = self.task.finalists
        if spec is None:
            return 0
        finalists = [f for f in self.state.get("finalists", []) if f["status"] != "interrupted"]
        self.state["finalists"] = finalists
        measured = {f["trial_id"] for f in finalists}
        ranked = sorted((t for t in self.trials if t["status"] == "completed" and t["score"] is not None),
                        key=lambda t: (t["score"], t["id"]))[:spec.top_k]
        ran = 0
        for trial in (t for t in ranked if t["id"] not in measured):
            if stop.is_set():
                return ran
            reporter.message(f"finalist: measuring trial {trial['id']} {spec.repeats} more times")
            result = runner.run(trial["id"], trial["params"], repeats=spec.repeats,
                                directory=self.dir / "finalists" / f"{trial['id']:04d}")
            entry = {"trial_id": trial["id"], "params": trial["params"], "status": result["status"],
                     "value": result.get("value"), "runs": result.get("runs", []), "error": result.get("error")}
            finalists.append(entry)
            append_jsonl(self.dir / LOG, {"event": "finalist", **entry})
            self.save()
            ran += 1
        if not stop.is_set():
            self.state["verdict"] = verdict(finalists, self.task.objective)
            reporter.message(f"finalists: {self.state['verdict'] or 'too few measured to judge'}")
        return ran

    def _started(self, trial: dict, reporter: "Reporter") -> None:
        trial.update(status="running", started_at=now_iso(), error=None)
        append_jsonl(self.dir / LOG, {"event": "started", "id": trial["id"], "params": trial["params"],
                                      "time": trial["started_at"]})
        self.save()
        reporter.trial_started(self, trial)

    def _finished(self, trial: dict, result: dict, reporter: "Reporter") -> None:
        trial.update(value=None, score=None, metrics={}, runs=[], error=None)
        trial.update(result, finished_at=now_iso())
        if trial["status"] in TOLD:
            self.strategy.tell(trial["params"], trial["score"], trial["status"])
        append_jsonl(self.dir / LOG, {"event": "finished", **trial})
        self.save()
        reporter.trial_finished(self, trial)


def _install_signal_handlers(stop: threading.Event) -> dict:
    """SIGINT/SIGTERM set the stop event: running trials are terminated, the checkpoint is written, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _restore_signal_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
