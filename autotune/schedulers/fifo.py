"""No early stopping: every trial runs to its end (the default)."""
from __future__ import annotations

from .base import Scheduler, register


@register
class FIFOScheduler(Scheduler):
    name = "none"
    # It takes the other schedulers' options and ignores them (max_step still fills the {max_step}
    # placeholder), so the same task runs with or without stopping by its name alone.
    OPTIONS = ("min_step", "max_step", "reduction_factor")
