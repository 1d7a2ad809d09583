"""What asking costs: ask+tell per trial of our tpe against Optuna's on the mixed space as a study grows,
and gp's ask at 100 and 500 trials on 10 numeric dimensions (its goals: 50 ms and 1 s)."""
from __future__ import annotations

import time

import numpy as np
from methods import make
from server import SPACE, objective

from autotune import Space, create_strategy

GP_SPACE = {f"x{i}": {"type": "float", "low": -5.0, "high": 5.0} for i in range(10)}


def ask_tell(job):
    """Mean ask+tell seconds per trial around each checkpoint (a window of 10 trials)."""
    method, checkpoints = job
    runner = make(method, SPACE, 0, None)
    out, t = {}, 0
    for target in checkpoints:
        while t < target - 10:
            params = runner.ask()
            runner.tell(params, objective(params))
            t += 1
        started = time.perf_counter()
        for _ in range(10):
            params = runner.ask()
            runner.tell(params, objective(params))
            t += 1
        out[target] = (time.perf_counter() - started) / 10
    return out


def gp_ask(job):
    """Median seconds of 5 asks of `method` after `trials` random trials on 10 dimensions, a sphere's scores."""
    method, trials = job
    space = Space.from_spec(GP_SPACE)
    strategy = create_strategy({"name": method.split("-", 1)[1], "seed": 0}, space, max_trials=trials + 5)
    rng = np.random.default_rng(0)

    def score(p):
        return float(sum(v * v for v in p.values()))

    for _ in range(trials):  # told without being asked: the history of a study resumed at this point
        params = space.sample(rng)
        strategy.tell(params, score(params))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        params = strategy.ask()
        times.append(time.perf_counter() - started)
        strategy.tell(params, score(params))
    return float(np.median(times))
