"""The strategy contract: ask, tell, state; plus the memory of configurations seen in a finite space.

A strategy's state holds only what the history of trials cannot give back (its seed, options, random
generator and counters), so a checkpoint stays the same size at trial 10,000 as at trial 10; restoring
replays the history through `tell`, as Optuna's samplers read the trials from the study instead of
keeping a copy.

With several objectives a completed trial's score is a list, one per objective (lower is better in each);
one objective keeps the plain number. A strategy says whether it takes several objectives
(`multi_objective`) and conditional spaces (`conditional`); a task asking one for what it does not take
is refused when it is validated.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from ..space import Categorical, Space

STATUSES = ("completed", "failed", "infeasible", "pruned")
RUNNING = "running"  # a history entry asked but not told yet: a trial still running when the state was taken
MAX_REDRAWS = 64
STRATEGIES: dict[str, type["Strategy"]] = {}


def register(cls: type["Strategy"]) -> type["Strategy"]:
    """Make a strategy class available by its name to tasks and the factory."""
    STRATEGIES[cls.name] = cls
    return cls


class Strategy:
    name: ClassVar[str]
    OPTIONS: ClassVar[tuple[str, ...]] = ()
    OPTION_ALIASES: ClassVar[dict[str, str]] = {}
    needs_finite_space: ClassVar[bool] = False
    multi_objective: ClassVar[bool] = False   # takes a list of scores, one per objective
    conditional: ClassVar[bool] = False       # proposes only the parameters active in a conditional space
    chooses: ClassVar[bool] = False           # picks among the others from the task's shape (objectives=)

    def __init__(self, space: Space, seed: int | None = None, max_trials: int | None = None, **options: Any):
        self.space = space
        self.seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else int(seed)
        self.max_trials = max_trials
        self.options = options
        self.rng = np.random.default_rng(self.seed)
        # Indices of configurations asked or told, so a finite space is never proposed twice.
        self._seen: set[int] = set()
        self._scores_per_trial: int | None = None  # how many scores the first scored trial had
        # Configurations asked and not told yet (running trials), which a model counts as a constant liar.
        self.pending: list[dict] = []

    def ask(self) -> dict | None:
        """The next configuration to try, or None when nothing is left to propose."""
        raise NotImplementedError

    def tell(self, params: Mapping[str, Any], score: float | list[float] | None, status: str = "completed",
             step: int | None = None) -> None:
        """Learn the result of a configuration. Lower scores are better (with several objectives, a list
        of one score per objective); failed and infeasible trials have none; a pruned one has its last
        score and the step it reached."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if status == "completed" and score is None:
            raise ValueError("a completed trial needs a score")
        if score is not None:
            count = len(score) if isinstance(score, (list, tuple)) else 1
            if count > 1 and not self.multi_objective:
                raise ValueError(f"the {self.name} strategy takes one score per trial, got {count}")
            if isinstance(score, (list, tuple)) and count < 2:
                raise ValueError("a list of scores holds one per objective, two or more")
            if self._scores_per_trial is None:
                self._scores_per_trial = count
            elif count != self._scores_per_trial:
                raise ValueError(f"every trial needs {self._scores_per_trial} score(s), one per objective; got {count}")
        self._remember(params)
        self._settle(params)

    def _settle(self, params: Mapping[str, Any]) -> None:
        """A told configuration is no longer running."""
        params = dict(params)
        if params in self.pending:
            self.pending.remove(params)

    @property
    def several(self) -> bool:
        """Whether the trials told so far are scored on several objectives."""
        return (self._scores_per_trial or 1) > 1

    def describe(self) -> str:
        """What this strategy is, for the study's record and the report: its name, unless it chose
        something itself (auto says what it chose and why)."""
        return self.name

    def state(self) -> dict:
        """What continuing exactly needs beyond the history: JSON-safe and small, random generator included."""
        return {"name": self.name, "seed": self.seed, "max_trials": self.max_trials, "options": self.options,
                "rng": self.rng.bit_generator.state, **self.counters()}

    def counters(self) -> dict:
        """Counters a subclass keeps across a restore (constant size); none by default."""
        return {}

    def restore_counters(self, state: Mapping[str, Any]) -> None:
        """Take back what `counters` saved, before the history is replayed."""

    @classmethod
    def from_state(cls, state: Mapping[str, Any], space: Space,
                   history: Iterable[Mapping[str, Any]] | None = None) -> "Strategy":
        strategy = cls(space, seed=state["seed"], max_trials=state.get("max_trials"), **state.get("options", {}))
        strategy.restore_counters(state)  # before the replay, whose learning may depend on them (gp's start)
        if history is None:  # a state from format 1 carries its own history
            history = legacy_history(state)
            for index in state.get("seen", []):
                strategy._mark(int(index))
        strategy.replay(history)
        strategy.rng.bit_generator.state = state["rng"]
        return strategy

    def replay(self, history: Iterable[Mapping[str, Any]]) -> None:
        """Learn the history again: told trials through `tell`, running ones as asked and pending."""
        for entry in history:
            if entry["status"] == RUNNING:
                self.asked(entry["params"])
            else:
                self.tell(entry["params"], entry.get("score"), entry["status"], entry.get("step"))

    def asked(self, params: Mapping[str, Any]) -> None:
        """A configuration proposed earlier and still running (on restore): never propose it again."""
        self._remember(params)
        self.pending.append(dict(params))

    # -- memory of a finite space ------------------------------------------------------------
    @property
    def exhausted(self) -> bool:
        return self.space.finite and len(self._seen) >= self.space.size

    def _remember(self, params: Mapping[str, Any]) -> None:
        index = self.space.index_of(params)
        if index is not None:
            self._mark(index)

    def _mark(self, index: int) -> None:
        self._seen.add(index)

    def _is_seen(self, index: int | None) -> bool:
        return index in self._seen

    def _random_proposal(self) -> dict:
        """A draw from each parameter's own distribution that, in a finite space, was never seen.

        On a repeat it draws again, up to MAX_REDRAWS times, then picks uniformly among the unseen
        configurations by rank: it neither repeats nor gives up while one is left (the seed's search
        gave up after 42 tries). Call only when not exhausted.
        """
        if not self.space.finite:
            return self.space.sample(self.rng)
        for _ in range(MAX_REDRAWS):
            params = self.space.sample(self.rng)
            index = self.space.index_of(params)
            if not self._is_seen(index):
                break
        else:
            index = self._unseen_at_random()
            params = self.space.config_at(index)
        self._mark(index)
        return params

    def _from_unit(self, row) -> dict:
        """The configuration at unit coordinates (a categorical's by its share of [0, 1]), active ones only."""
        return self.space.active({p.name: p.values[min(int(u * len(p.values)), len(p.values) - 1)]
                                  if isinstance(p, Categorical) else p.from_unit(float(u))
                                  for p, u in zip(self.space.params, row)})

    def _unseen_or_random(self, params: dict) -> dict:
        """`params`, noted as seen; or, when a finite space already saw it, a random unseen configuration."""
        index = self.space.index_of(params)
        if self._is_seen(index):
            return self._random_proposal()
        if index is not None:
            self._mark(index)
        return params

    def _first_unseen(self, candidates: Iterable[dict]) -> dict:
        """The first candidate (best first) a finite space has not seen, noted as seen; when every one
        was seen, a random unseen configuration: never a repeat. An infinite space: the first candidate."""
        candidates = iter(candidates)
        if not self.space.finite:
            return next(candidates)
        for params in candidates:
            index = self.space.index_of(params)
            if not self._is_seen(index):
                self._mark(index)
                return params
        index = self._unseen_at_random()
        self._mark(index)
        return self.space.config_at(index)

    def _unseen_at_random(self) -> int:
        """A uniformly random unseen index, by rank among the unseen, without listing the space."""
        rank = random_below(self.rng, self.space.size - len(self._seen))
        for index in sorted(self._seen):
            if index > rank:
                break
            rank += 1
        return rank


def latin_hypercube(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    """n points in [0, 1]^dims, one in each of n strata along every dimension: a better spread than random
    for the few trials a model starts from."""
    shape = (n, dims)
    return (np.argsort(rng.random(shape), axis=0) + rng.random(shape)) / n


def random_below(rng: np.random.Generator, n: int) -> int:
    """A uniform integer in [0, n) for any n: numpy's integers stop at 2**63, a grid of 12 parameters
    of 100 values holds 1e24 configurations."""
    if n < 2**63:
        return int(rng.integers(n))
    nbytes = (n.bit_length() + 7) // 8
    while True:  # rejection keeps it uniform
        value = int.from_bytes(rng.bytes(nbytes), "little") >> (8 * nbytes - n.bit_length())
        if value < n:
            return value


def legacy_history(state: Mapping[str, Any]) -> list[dict]:
    """The trials a state from format 1 carried inside itself; none for a current state."""
    history = [{"params": p, "score": s, "status": "completed" if s is not None else "infeasible"}
               for p, s in state.get("observations", [])]
    return history + [{"params": p, "status": RUNNING} for p in state.get("pending", [])]
