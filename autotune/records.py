"""Trial records: the statuses, and the one place that ranks trials (best, ranking, Pareto front).

A trial record is a JSON-safe dict ({"id", "params", "status", "value", "score", "metrics", "runs",
"error", "duration_s", "step", "gpus", ...}); `Trials` holds a study's records in id order and keeps
its counts and best up to date as trials change, so nothing per trial scans the whole study.

With several objectives a trial's value and score are lists, one per objective, and there is no single
best: the answer is the Pareto front, the completed trials no other completed trial beats, where a trial
beats another when its scores are no worse in every objective and better in at least one. Two trials
equal in every score beat neither, so both are on the front or neither is.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from typing import Any

from .pareto import dominates, nondominated, ranks


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


def several(trial: Mapping[str, Any]) -> bool:
    """Whether the trial was scored on several objectives (a list of scores)."""
    return isinstance(trial.get("score"), list)


def rank_key(trial: Mapping[str, Any]) -> tuple:
    """Lower score first, ties to the lower id."""
    return (trial["score"], trial["id"])


def ranked(trials: Iterable[Mapping[str, Any]]) -> list:
    """The completed trials, best first; with several objectives by non-domination rank (the front first,
    then the front of the rest, ...), ties to the lower id."""
    done = [t for t in trials if rankable(t)]
    if any(several(t) for t in done):
        rank = ranks([t["score"] for t in done])
        return [t for _, _, t in sorted(zip(rank.tolist(), [t["id"] for t in done], done), key=lambda x: x[:2])]
    return sorted(done, key=rank_key)


def best(trials: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The completed trial with the lowest score; none with several objectives (see `front`)."""
    return min((t for t in trials if rankable(t) and not several(t)), key=rank_key, default=None)


def front(trials: Iterable[Mapping[str, Any]]) -> list:
    """With several objectives, the completed trials no other completed trial beats, by id."""
    done = sorted((t for t in trials if rankable(t) and several(t)), key=lambda t: t["id"])
    return [t for t, keep in zip(done, nondominated([t["score"] for t in done])) if keep] if done else []


class Trials:
    """A study's trial records by id, with counts per status and the best trial (or the Pareto front)
    kept current."""

    def __init__(self, records: Iterable[dict] = ()):
        self._by_id: dict[int, dict] = {}
        self.counts: Counter = Counter()
        self.best: dict | None = None
        self.front: list[dict] = []  # by id
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
        if old is not None and any(m is old for m in self.front):
            self.front = front(self)
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
        if not rankable(record):
            return
        if several(record):
            # A newcomer joins the front unless a member beats it, and drops the members it beats.
            others = [m for m in self.front if m is not record]
            if any(dominates(m["score"], record["score"]) for m in others):
                self.front = others
            else:
                self.front = sorted([m for m in others if not dominates(record["score"], m["score"])] + [record],
                                    key=lambda t: t["id"])
        elif self.best is None or rank_key(record) < rank_key(self.best):
            self.best = record

    def count(self, *statuses: Status) -> int:
        return sum(self.counts[s] for s in statuses)

    def unfinished(self) -> list[dict]:
        """Trials to run again on resume, by id."""
        return sorted((t for t in self if t["status"] in UNFINISHED), key=lambda t: t["id"])
