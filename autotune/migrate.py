"""Study directories written by earlier releases, brought to the current format or refused clearly.

Format 1 kept every trial inside checkpoint.json and re-wrote it whole after each trial. Format 2 keeps
them in the journal and a small checkpoint. A format 1 study is migrated when it is resumed; its
original files are kept beside the new ones (checkpoint.v1.json, trials.v1.jsonl).
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError
from .storage import CHECKPOINT, JOURNAL, Journal, write_checkpoint

FORMAT_VERSION = 2
FINISHED = ("completed", "failed", "infeasible", "pruned", "interrupted")


def migrate(directory: Path, state: dict, write: bool) -> tuple[dict, list[dict]]:
    """(state, events) of an older study in the current format. With `write` (the study is locked for a
    resume) the migrated study replaces the old files."""
    version = state.get("format_version")
    if version != 1:
        raise InputError(f"{directory / CHECKPOINT}: study format {version!r} is not one this autotune reads "
                         f"(1 to {FORMAT_VERSION}); it was written by a newer autotune: upgrade to open it")
    state, events = from_format_1(state)
    if write:
        os.replace(directory / CHECKPOINT, directory / "checkpoint.v1.json")
        if (directory / JOURNAL).exists():
            os.replace(directory / JOURNAL, directory / "trials.v1.jsonl")
        journal = Journal(directory / JOURNAL).open(0)
        try:
            for event in events:
                journal.append(event)
            state["journal_bytes"] = journal.commit(state)
        finally:
            journal.close()
        write_checkpoint(directory, state)
    return state, events


def from_format_1(old: dict) -> tuple[dict, list[dict]]:
    """Journal events for each trial in id order (started, then finished unless it was running) and the
    finalists; the strategy's format 1 state is kept: restoring it replays these events' history."""
    events = []
    for trial in sorted(old.get("trials", []), key=lambda t: t["id"]):
        events.append({"event": "started", "id": trial["id"], "params": trial["params"], "gpus": None,
                       "time": trial.get("started_at")})
        if trial["status"] in FINISHED:
            fields = {k: trial.get(k) for k in ("status", "value", "score", "metrics", "runs", "error", "duration_s")}
            events.append({"event": "finished", "id": trial["id"], "params": trial["params"], **fields,
                           "step": None, "time": trial.get("finished_at")})
    for finalist in old.get("finalists", []):
        events.append({"event": "finalist", **finalist})
    state = {k: v for k, v in old.items() if k not in ("trials", "finalists")}
    state.update(format_version=FORMAT_VERSION, placement={}, stop_reason=None, waiting=None,
                 scheduler={"name": "none", "seed": 0, "options": {}})
    return state, events
