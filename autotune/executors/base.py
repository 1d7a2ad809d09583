"""The executor contract: run whole trials where they are placed, and hand back what they measured.

`submit(spec)` starts a trial and returns a handle at once; the study loop polls handles for progress
reports, stops the ones its scheduler or an interrupt says to stop, and takes each result when done.
Executors know nothing of strategies or scores.
"""
from __future__ import annotations

import importlib.util
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import InputError
from ..trial import TrialSpec, unmeasured

if TYPE_CHECKING:
    from ..task import Task

EXECUTORS: dict[str, type["Executor"]] = {}


def register(cls: type["Executor"]) -> type["Executor"]:
    """Make an executor class available by its name to tasks (`executor`) and `--executor`."""
    EXECUTORS[cls.name] = cls
    return cls


class TrialHandle:
    """A submitted trial. poll() -> new progress reports; done(); result() once done; stop()."""

    def poll(self) -> list[dict]:
        raise NotImplementedError

    def done(self) -> bool:
        raise NotImplementedError

    def result(self) -> dict:
        """{"status": ok | failed | stopped | infeasible, "runs": [[batch, ...] per measured run], "error",
        "duration_s"}, and "gpus" (the devices) from executors that assign them; infeasible: no place can
        hold the trial."""
        raise NotImplementedError

    def stop(self, grace: float | None = None) -> None:
        """End the trial now: SIGTERM to its process tree, SIGKILL after the grace period."""
        raise NotImplementedError


class Executor:
    name: ClassVar[str]
    OPTIONS: ClassVar[tuple[str, ...]] = ()
    runs_commands: ClassVar[bool] = True     # whether a task for it needs `command`
    assigns_devices: ClassVar[bool] = False  # True: it places GPUs itself (Ray), not the study's slot pool
    runs_here: ClassVar[bool] = True         # trials run on this machine, so their programs must exist here
    extra: ClassVar[str | None] = None       # the optional extra (and module) it needs: checked before a study starts

    @classmethod
    def check_installed(cls) -> None:
        """Refuse before a study directory exists, not after, when the executor's extra is missing."""
        if cls.extra and importlib.util.find_spec(cls.extra) is None:
            raise InputError(f"the {cls.name} executor needs the {cls.extra!r} package: pip install 'autotune[{cls.extra}]'")

    def __init__(self, task: "Task", study_dir: Path, **options: Any):
        self.task = task
        self.study_dir = study_dir
        self.options = options
        # Set whenever a handle has news (a report, or its end), so the loop sleeps until there is some.
        self.wakeup = threading.Event()

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> str | None:
        """What is wrong with a task's options for this executor (checked by `validate`), or None."""
        return None

    def submit(self, spec: TrialSpec) -> TrialHandle:
        raise NotImplementedError

    def capacity(self, gpus: int) -> int | None:
        """How many trials of `gpus` GPUs each fit at once where this executor places them (the default
        `parallel` when it assigns devices itself), or None when the study's devices decide."""
        return None

    def recover(self) -> None:
        """Stop whatever trial processes a runner killed earlier (kill -9) left behind."""

    def close(self) -> None:
        """Release what the executor holds (connections, clusters)."""


class ThreadHandle(TrialHandle):
    """A trial run by a function in a thread of this process: the local and inline executors."""

    def __init__(self, body: Callable[[threading.Event, Callable[[dict], None]], dict], wakeup: threading.Event,
                 kill_grace: float):
        self._reports: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._result: dict | None = None
        self._wakeup = wakeup
        self.kill_grace = kill_grace
        self._thread = threading.Thread(target=self._run, args=(body,), daemon=True)
        self._thread.start()

    def _run(self, body) -> None:
        try:
            self._result = body(self._stop, self._report)
        except Exception as e:  # noqa: BLE001 -- a bug in one trial's plumbing fails that trial, not the study
            self._result = unmeasured("failed", error=f"{type(e).__name__}: {e}")
        finally:
            self._wakeup.set()

    def _report(self, report: dict) -> None:
        self._reports.put(report)
        self._wakeup.set()

    def poll(self) -> list[dict]:
        return drain(self._reports)

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> dict:
        self._thread.join()
        return self._result

    def stop(self, grace: float | None = None) -> None:
        self._stop.set()


def drain(reports: queue.SimpleQueue) -> list[dict]:
    """What a handle's report queue holds now, in order: its poll()."""
    taken = []
    while not reports.empty():
        taken.append(reports.get())
    return taken
