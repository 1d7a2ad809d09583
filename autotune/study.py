"""A study directory: created or opened, locked, its task pinned by hash, its trials rebuilt from the
journal, its strategy and scheduler restored, and every event recorded as it happens.

DIR/trials.jsonl is the record of every trial; DIR/checkpoint.json is a small snapshot (header, budget,
status, strategy and scheduler state, how much of the journal it covers), replaced after every trial.
Nothing here grows with the number of trials except the journal, which is only appended to.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import InputError
from .executors import EXECUTORS
from .migrate import FORMAT_VERSION, migrate
from .records import FINAL, Status, StudyStatus, Trials, new_trial
from .schedulers import create_scheduler, restore_scheduler
from .storage import (CHECKPOINT, COMMIT_PREFIX, JOURNAL, LOCK, DamagedCheckpoint, Journal, StudyLock, read_checkpoint,
                      read_journal, write_checkpoint)
from .strategies import restore_strategy
from .task import Task, load_task

TASK_COPY = "task.yaml"
# What a `run` killed before its first checkpoint.json leaves: not a study, so reusable (see _creation_leftover).
CREATION_LEFTOVERS = {TASK_COPY, LOCK, f".{CHECKPOINT}.tmp"}
ANSWER_KEYS = ("answer_id", "answer_front", "verdict", "verdict_reason")  # what the finalists decided


def _creation_leftover(path: Path) -> bool:
    """A file a `run` killed before its first checkpoint.json may leave. The journal counts only while it
    is nothing but the creation's commit (which comes before checkpoint.json), whole, cut short or not yet
    written: anything else in a file of that name, ours or another tool's, is data the user may want."""
    if path.name in CREATION_LEFTOVERS:
        return True
    if path.name != JOURNAL or path.is_symlink() or not path.is_file():  # a FIFO would block the read
        return False
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return not data or (data.startswith(COMMIT_PREFIX) and b"\n" not in data.rstrip(b"\n"))


def now_iso() -> str:
    """UTC with milliseconds: journal times order events that happen within a second."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def default_study_dir(name: str, root: Path = Path("studies")) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = root / f"{name}-{stamp}", 1
    while candidate.exists():
        n += 1
        candidate = root / f"{name}-{stamp}-{n}"
    return candidate


def newest_study(root: Path = Path("studies")) -> Path:
    """The most recently created study under `root` (what `report`, `best` and `resume` take without DIR)."""
    found = []
    for candidate in root.iterdir() if root.is_dir() else ():
        try:
            created = json.loads((candidate / CHECKPOINT).read_text()).get("created_at") or ""
        except (OSError, ValueError):
            continue
        found.append((created, candidate.stat().st_mtime, candidate))
    if not found:
        raise InputError(f"no study under {root}/; give the study directory, or start one with `autotune run TASK`")
    return max(found)[2]


class Study:
    """A study's task, state and trials; owned (locked) for a run, or read-only for a report."""

    def __init__(self, directory: Path, task: Task, state: dict, events: list[dict],
                 lock: StudyLock | None = None, journal: Journal | None = None):
        self.dir = directory
        self.task = task
        self.state = state
        self.lock = lock
        self.journal = journal
        self.trials = Trials()
        self.finalists: list[dict] = []                    # the last finalists phase's decided entries
        self.finalist_phase: dict | None = None            # its contenders, repeats and order
        self.finalist_runs: dict[int, dict[int, dict]] = {}  # trial id -> run number -> that run
        told, reports = self._rebuild(events)
        self.strategy = restore_strategy(state["strategy"], task.space, told)
        self.scheduler = restore_scheduler(state["scheduler"], reports)
        self._session_start = time.monotonic()
        self._elapsed_before = state.get("elapsed_s", 0.0)

    # -- creating and opening ------------------------------------------------------------------
    @classmethod
    def create(cls, task_path: str | Path, study_dir: str | Path | None = None, *, max_trials: int | None = None,
               max_time: float | None = None, parallel: int | None = None, seed: int | None = None,
               placement: Mapping[str, Any] | None = None) -> "Study":
        """A new study directory holding the task and a first checkpoint, before any trial starts.
        `placement`: the CLI's executor, executor options and devices, kept for resume."""
        executor = (placement or {}).get("executor")
        task = load_task(task_path, check_programs=executor in (None, "local"))
        EXECUTORS[executor or task.executor.name].check_installed()
        directory = Path(study_dir) if study_dir else default_study_dir(task.name)
        if (directory / CHECKPOINT).exists():
            raise InputError(f"{directory}: already holds a study; continue it with `autotune resume {directory}`")
        if directory.exists() and (not directory.is_dir() or not all(map(_creation_leftover, directory.iterdir()))):
            raise InputError(f"{directory}: exists and is not an empty directory; choose another --study-dir")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{directory}: cannot create the study directory: {e.strerror or e}") from None
        directory = directory.resolve()
        lock = StudyLock(directory).acquire()
        try:
            text = Path(task_path).read_bytes()
            (directory / TASK_COPY).write_bytes(text)
            budget = {"max_trials": max_trials or task.max_trials,
                      "max_time": max_time or task.budget.max_time,
                      "max_failed_trials": task.budget.max_failed_trials}
            strategy = task.built_strategy(seed=seed, max_trials=budget["max_trials"])
            scheduler = create_scheduler(task.early_stopping.name, task.early_stopping.options, seed=strategy.seed)
            state = {
                "format_version": FORMAT_VERSION, "name": task.name,
                "task_sha256": hashlib.sha256(text).hexdigest(), "task_path": str(task.source),
                "workdir": str(task.workdir), "objective": task.objective.to_json(),
                **({"objectives": [o.to_json() for o in task.objectives]} if task.several else {}),
                "budget": budget, "parallel": parallel, "placement": dict(placement or {}),
                "status": StudyStatus.RUNNING, "stop_reason": None, "next_trial_id": 0, "waiting": None,
                "elapsed_s": 0.0, "created_at": now_iso(), "updated_at": now_iso(),
                "strategy": strategy.state(), "scheduler": scheduler.state(),
            }
            study = cls(directory, task, state, [], lock, Journal(directory / JOURNAL).open(0))
            study.commit()
            return study
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, study_dir: str | Path, force: bool = False) -> "Study":
        """An existing study, locked for this process, its journal cut back to what the checkpoint covers;
        refuses one whose task.yaml changed unless forced."""
        directory = Path(study_dir).resolve()
        try:
            read_checkpoint(directory)  # a clear error for a directory that is not a study, before locking
        except DamagedCheckpoint:
            pass  # rebuilt from the journal once locked
        lock = StudyLock(directory).acquire()
        try:
            state, events = stored_state(directory, write=True)
            text = _task_text(directory)
            if hashlib.sha256(text).hexdigest() != state["task_sha256"]:
                if not force:
                    raise InputError(f"{directory / TASK_COPY}: changed since the study began (sha256 differs); "
                                     "restore it, or pass --force to continue with the file as it is now")
                state["task_sha256"] = hashlib.sha256(text).hexdigest()
            task = load_task(directory / TASK_COPY, workdir=state["workdir"])
            journal = Journal(directory / JOURNAL).open(state["journal_bytes"])
            return cls(directory, task, state, events, lock, journal)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def load(cls, study_dir: str | Path) -> "Study":
        """A read-only view for reports: the whole journal as it is now (a running study included)."""
        directory = Path(study_dir).resolve()
        state, events = stored_state(directory)
        if state["status"] == StudyStatus.RUNNING and not _owned(directory):
            state["status"] = StudyStatus.INTERRUPTED  # its runner died without saying so (kill -9, a full disk)
        task = load_task(directory / TASK_COPY, workdir=state["workdir"]) if (directory / TASK_COPY).exists() else None
        if task is None:
            raise InputError(f"{directory / TASK_COPY}: missing, so the study cannot be read")
        return cls(directory, task, state, events)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
        if self.lock is not None:
            self.lock.release()

    def _rebuild(self, events: list[dict]) -> tuple[list[dict], list[dict]]:
        """Trials from the journal; return the strategy's history (told trials in the order told, then the
        unfinished ones) and the scheduler's (reports of each trial's latest attempt, and ends)."""
        told: list[dict] = []
        reports: dict[int, list[dict]] = {}
        order: list[dict] = []  # reports and ends, in journal order, for the scheduler
        for event in events:
            kind, trial_id = event["event"], event.get("id")
            if kind == "started":
                record = new_trial(trial_id, event["params"])
                record.update(gpus=event.get("gpus"), started_at=event.get("time"))
                self.trials.put(record)
                for earlier in reports.pop(trial_id, []):
                    earlier["dropped"] = True  # a re-run starts over: its earlier attempt's reports are dropped
            elif kind == "report":
                if trial_id in self.trials:
                    record = self.trials[trial_id]
                    record["step"] = event["step"]
                    record.setdefault("curve", []).append([event["step"], event.get("value"), event.get("score")])
                    reports.setdefault(trial_id, []).append(event)
                    order.append(event)
            elif kind == "finished":
                fields = {k: v for k, v in event.items() if k not in ("event", "id", "time")}
                if trial_id in self.trials:
                    self.trials.update(self.trials[trial_id], finished_at=event.get("time"), **fields)
                else:  # never started: placed as infeasible (more GPUs than exist)
                    self.trials.put({**new_trial(trial_id, fields["params"]), **fields, "finished_at": event.get("time")})
                record = self.trials[trial_id]
                if record["status"] in FINAL:
                    told.append(history_entry(record))
                    order.append(event)
            elif kind == "finalists":
                self.finalist_phase, self.finalist_runs, self.finalists = event, {}, []
            elif kind == "finalist_run":
                self.finalist_runs.setdefault(event["trial_id"], {})[event["run"]] = event
            elif kind == "finalist":
                self.finalists = [f for f in self.finalists if f["trial_id"] != event["trial_id"]]
                self.finalists.append({k: v for k, v in event.items() if k not in ("event", "time")})
        for trial in self.trials.unfinished():  # it runs again from its start: this attempt's reports are void
            for earlier in reports.get(trial["id"], []):
                earlier["dropped"] = True
        told += [{"params": t["params"], "status": "running"} for t in self.trials.unfinished()]
        if self.state.get("waiting"):
            told.append({"params": self.state["waiting"]["params"], "status": "running"})
        return told, [e for e in order if not e.get("dropped")]

    # -- state --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.state["name"]

    @property
    def status(self) -> StudyStatus:
        return StudyStatus(self.state["status"])

    @property
    def budget(self) -> dict:
        return self.state["budget"]

    @property
    def elapsed(self) -> float:
        return self._elapsed_before + (time.monotonic() - self._session_start)

    def set_budget(self, max_trials: int | None = None, max_time: float | None = None) -> None:
        if max_trials is not None:
            self.state["budget"]["max_trials"] = max_trials
        if max_time is not None:
            self.state["budget"]["max_time"] = max_time

    def set_status(self, status: StudyStatus, reason: str | None = None) -> None:
        self.state["status"] = status
        self.state["stop_reason"] = reason

    # -- recording ------------------------------------------------------------------------------
    def record(self, event: dict) -> None:
        """Append an event to the journal; it becomes durable with the next commit."""
        self.journal.append({**event, "time": now_iso()})

    def record_started(self, trial: dict) -> None:
        for key in ANSWER_KEYS:  # the search goes on: finalists decide again
            self.state.pop(key, None)
        self.trials.put(trial)
        trial["started_at"] = now_iso()
        self.journal.append({"event": "started", "id": trial["id"], "params": trial["params"], "gpus": trial["gpus"],
                             "time": trial["started_at"]})

    def record_report(self, trial: dict, step: int, values: Mapping[str, Any], value: Any, score: float | None) -> None:
        trial["step"] = step
        trial.setdefault("curve", []).append([step, value, score])
        self.record({"event": "report", "id": trial["id"], "step": step, "values": dict(values), "value": value,
                     "score": score})

    def record_finished(self, trial: dict, fields: Mapping[str, Any]) -> None:
        """The trial's end: its status, value, score, metrics, runs, error, duration and step."""
        if trial["id"] not in self.trials:
            self.trials.put(trial)
        self.trials.update(trial, finished_at=now_iso(), **fields)
        self.journal.append({"event": "finished", "id": trial["id"], "params": trial["params"],
                             **{k: trial.get(k) for k in fields}, "time": trial["finished_at"]})

    def start_finalists(self, contenders: list[int], repeats: int, interleave: bool) -> None:
        """A new finalists phase; one from before (a smaller budget) no longer counts."""
        self.finalist_phase = {"event": "finalists", "contenders": contenders, "repeats": repeats,
                               "interleave": interleave}
        self.finalist_runs, self.finalists = {}, []
        for key in ANSWER_KEYS:
            self.state.pop(key, None)
        self.record(self.finalist_phase)

    def record_finalist_run(self, trial_id: int, run: int, status: str, batches: list, error: str | None) -> None:
        event = {"event": "finalist_run", "trial_id": trial_id, "run": run, "status": status, "batches": batches,
                 "error": error}
        self.finalist_runs.setdefault(trial_id, {})[run] = event
        self.record(event)

    def record_finalist(self, entry: dict) -> None:
        self.finalists = [f for f in self.finalists if f["trial_id"] != entry["trial_id"]] + [entry]
        self.record({"event": "finalist", **entry})

    def answer(self) -> dict | None:
        """What the study found: the contender the finalists' re-measurement picked, once they have
        decided; else the best trial of the search. None when nothing feasible was found."""
        if "answer_id" in self.state:
            entry = next((f for f in self.finalists if f["trial_id"] == self.state["answer_id"]), None)
            return entry and found_entry(entry, entry["trial_id"], remeasured=True)
        best = self.trials.best
        return best and found_entry(best, best["id"])

    def front(self) -> list[dict] | None:
        """With several objectives, what the study found: the Pareto front of the finalists' re-measurement
        once they have decided, else of the search (by id); None with one objective."""
        if not self.task.several:
            return None
        if self.front_remeasured():
            entries = {f["trial_id"]: f for f in self.finalists}
            return [found_entry(entries[i], i, remeasured=True) for i in self.state["answer_front"] if i in entries]
        return [found_entry(t, t["id"]) for t in self.trials.front]

    def front_remeasured(self) -> bool:
        """Whether the finalists' re-measurement decided the front (it may have kept none of it)."""
        return "answer_front" in self.state

    def found(self) -> bool:
        """Whether the study found anything feasible: a best trial, or a front."""
        return self.answer() is not None or bool(self.front())

    def commit(self) -> None:
        """Append the state to the journal as its commit point and make it durable; then checkpoint.json."""
        self.state["strategy"] = self.strategy.state()
        self.state["scheduler"] = self.scheduler.state()
        self.state["elapsed_s"] = round(self.elapsed, 3)
        self.state["updated_at"] = now_iso()
        self.state.pop("journal_bytes", None)  # the commit's own position says it
        self.state["journal_bytes"] = self.journal.commit(self.state)
        write_checkpoint(self.dir, self.state)


def found_entry(measured: Mapping[str, Any], trial_id: int, remeasured: bool = False) -> dict:
    """What a study found, from a trial of the search or a finalist's re-measurement."""
    return {"trial_id": trial_id, **{k: measured[k] for k in ("params", "value", "score", "metrics", "runs")},
            "remeasured": remeasured}


def stored_state(directory: Path, write: bool = False) -> tuple[dict, list[dict]]:
    """The study's state and events: the journal's last commit and the events before it (with `write`, a
    resume) or all of them (a report). checkpoint.json must exist (it makes a directory a study), but a
    damaged one is rebuilt from the journal; a format 1 study is migrated (with `write`) or read as it is."""
    try:
        checkpoint = read_checkpoint(directory)
    except DamagedCheckpoint:
        checkpoint = None
    if checkpoint is not None and checkpoint.get("format_version") != FORMAT_VERSION:
        return migrate(directory, checkpoint, write)
    contents = read_journal(directory / JOURNAL, committed_only=write)
    if contents.state is None:
        read_checkpoint(directory)  # says what is wrong with checkpoint.json
        raise InputError(f"{directory / JOURNAL}: holds no commit, so the study cannot be read")
    state = {**contents.state, "journal_bytes": contents.committed}
    if write and checkpoint != state:
        write_checkpoint(directory, state)
    return state, contents.events


def history_entry(trial: Mapping[str, Any]) -> dict:
    """How a finished trial is told to a strategy."""
    entry = {"params": trial["params"], "score": trial.get("score"), "status": str(trial["status"])}
    if trial["status"] == Status.PRUNED:
        entry["step"] = trial.get("step")
    elif trial["status"] != Status.COMPLETED:
        entry["score"] = None
    return entry


def _task_text(directory: Path) -> bytes:
    try:
        return (directory / TASK_COPY).read_bytes()
    except OSError as e:
        raise InputError(f"{directory / TASK_COPY}: cannot be read: {e.strerror or e}") from None


def _owned(directory: Path) -> bool:
    """Whether a live process holds the study's lock (probed with a shared lock, nothing written)."""
    try:
        fd = os.open(directory / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)
