"""No early stopping: every trial runs to its end (the default)."""
from __future__ import annotations

from .base import Scheduler, register


@register
class FIFOScheduler(Scheduler):
    name = "none"
    # max_step only fills the {max_step} placeholder: the same task runs with or without stopping by its name.
    OPTIONS = ("max_step",)
