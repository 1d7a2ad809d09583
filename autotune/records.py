"""Trial records: the statuses, and the one place that ranks trials (best, ranking, Pareto front).

A trial record is a JSON-safe dict ({"id", "params", "status", "value", "score", "metrics", "runs",
"error", "duration_s", "step", "gpus", ...}); `Trials` holds a study's records in id order and keeps
its counts and best up to date as trials change, so nothing per trial scans the whole study.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from typing import Any


class _Text(str, Enum):
    """A str, so records stay plain JSON, printed as its value."""

    def __str__(self) -> str:
        return self.value


class Status(_Text):
    """A trial's status."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INFEASIBLE = "infeasible"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"


class StudyStatus(_Text):
    RUNNING = "running"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


FINAL = (Status.COMPLETED, Status.FAILED, Status.INFEASIBLE, Status.PRUNED)  # told to the strategy
UNFINISHED = (Status.RUNNING, Status.INTERRUPTED)                            # re-run on resume
TRIAL_FIELDS = ("value", "score", "metrics", "runs", "error", "duration_s", "step")


def new_trial(trial_id: int, params: Mapping[str, Any]) -> dict:
    return {"id": trial_id, "params": dict(params), "status": Status.RUNNING, "value": None, "score": None,
            "metrics": {}, "runs": [], "error": None, "duration_s": None, "step": None, "gpus": None}


def rankable(trial: Mapping[str, Any]) -> bool:
    """Only completed trials with a score can be best; infeasible, failed and pruned ones never are."""
    return trial["status"] == Status.COMPLETED and trial.get("score") is not None


def rank_key(trial: Mapping[str, Any]) -> tuple:
    """Lower score first, ties to the lower id."""
    return (trial["score"], trial["id"])


def ranked(trials: Iterable[Mapping[str, Any]]) -> list:
    """The completed trials, best first."""
    return sorted((t for t in trials if rankable(t)), key=rank_key)


def best(trials: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return min((t for t in trials if rankable(t)), key=rank_key, default=None)


class Trials:
    """A study's trial records by id, with counts per status and the best trial kept current."""

    def __init__(self, records: Iterable[dict] = ()):
        self._by_id: dict[int, dict] = {}
        self.counts: Counter = Counter()
        self.best: dict | None = None
        for record in records:
            self.put(record)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[dict]:
        return iter(self._by_id.values())

    def __contains__(self, trial_id: int) -> bool:
        return trial_id in self._by_id

    def __getitem__(self, trial_id: int) -> dict:
        return self._by_id[trial_id]

    def put(self, record: dict) -> dict:
        """Add a record, or replace the one with its id (a trial started again)."""
        old = self._by_id.get(record["id"])
        if old is not None:
            self.counts[old["status"]] -= 1
        record["status"] = Status(record["status"])
        self._by_id[record["id"]] = record
        self.counts[record["status"]] += 1
        if old is not None and old is self.best:
            self.best = best(self)  # only an unfinished trial is started again, so this is rare
        self._consider(record)
        return record

    def update(self, record: dict, **fields: Any) -> dict:
        """Change a record in place (its status, score, ...), keeping counts and best current."""
        self.counts[record["status"]] -= 1
        record.update(fields)
        record["status"] = Status(record["status"])
        self.counts[record["status"]] += 1
        self._consider(record)
        return record

    def _consider(self, record: dict) -> None:
        if rankable(record) and (self.best is None or rank_key(record) < rank_key(self.best)):
            self.best = record

    def count(self, *statuses: Status) -> int:
        return sum(self.counts[s] for s in statuses)

    def unfinished(self) -> list[dict]:
        """Trials to run again on resume, by id."""
        return sorted((t for t in self if t["status"] in UNFINISHED), key=lambda t: t["id"])
