"""Trials as subprocesses on this machine (the default executor)."""
from __future__ import annotations

from ..process import kill_leftovers
from ..trial import TrialSpec, run_trial
from .base import Executor, ThreadHandle, TrialHandle, register


@register
class LocalExecutor(Executor):
    name = "local"

    def submit(self, spec: TrialSpec) -> TrialHandle:
        return ThreadHandle(lambda stop, report: run_trial(self.task, spec, self.study_dir, spec.directory, stop,
                                                           report),
                            self.wakeup, self.task.kill_grace)

    def recover(self) -> None:
        kill_leftovers(self.study_dir)
