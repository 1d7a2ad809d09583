"""Schedulers decide whether a running trial goes on (early stopping); one registry maps names to classes."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import asha, fifo, hyperband, median  # noqa: F401  (the built-in schedulers register themselves)
from .base import SCHEDULERS, Decision, Scheduler, register

__all__ = ["SCHEDULERS", "Decision", "Scheduler", "create_scheduler", "register", "restore_scheduler"]


def create_scheduler(name: str, options: Mapping[str, Any], seed: int = 0) -> Scheduler:
    return SCHEDULERS[name](seed=seed, **options)


def restore_scheduler(state: Mapping[str, Any], reports: Iterable[Mapping[str, Any]] = ()) -> Scheduler:
    return SCHEDULERS[state["name"]].from_state(state, reports)
