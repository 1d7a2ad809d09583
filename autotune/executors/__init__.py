"""Executors run whole trials where they are placed; one registry maps names to classes."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import inline, local, ray  # noqa: F401  (the built-in executors register themselves)
from .base import EXECUTORS, Executor, ThreadHandle, TrialHandle, register

if TYPE_CHECKING:
    from ..task import Task

__all__ = ["EXECUTORS", "Executor", "ThreadHandle", "TrialHandle", "create_executor", "register"]


def create_executor(name: str, options: Mapping[str, Any], task: "Task", study_dir: Path) -> Executor:
    return EXECUTORS[name](task, study_dir, **options)
