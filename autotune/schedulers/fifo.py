"""No early stopping: every trial runs to its end (the default)."""
from __future__ import annotations

from .base import Scheduler, register


@register
class FIFOScheduler(Scheduler):
    name = "none"
