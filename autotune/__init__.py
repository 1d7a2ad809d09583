"""autotune: find the best flags for a program by measuring it."""
from .errors import AutotuneError, InputError, SpecError, TaskError
from .executors import EXECUTORS, Executor, create_executor
from .loop import RunOutcome, run_study
from .objective import Objective, Outcome, evaluate
from .records import Status, StudyStatus
from .report import build_report
from .schedulers import SCHEDULERS, Decision, Scheduler
from .space import Space
from .strategies import STRATEGIES, create_strategy, restore_strategy
from .study import Study
from .task import Task, load_task

__all__ = [
    "EXECUTORS", "SCHEDULERS", "STRATEGIES", "AutotuneError", "Decision", "Executor", "InputError", "Objective",
    "Outcome", "RunOutcome", "Scheduler", "Space", "SpecError", "Status", "Study", "StudyStatus", "Task", "TaskError",
    "build_report", "create_executor", "create_strategy", "evaluate", "load_task", "restore_strategy", "run_study",
]
