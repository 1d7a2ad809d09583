"""Random search: each parameter drawn from its own distribution (log scales respected), never
repeating a configuration of a finite space while unseen ones remain (see Strategy._random_proposal)."""
from __future__ import annotations

from .base import Strategy, register


@register
class RandomStrategy(Strategy):
    name = "random"
    multi_objective = True  # it never reads scores
    conditional = True

    def ask(self) -> dict | None:
        return None if self.exhausted else self._random_proposal()
