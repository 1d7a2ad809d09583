"""COCO's bbob suite (f1-f24 on [-5, 5]^d, instance 1): best-so-far log10 regret at each budget."""
from __future__ import annotations

import math
import os
import statistics
import tempfile

import numpy as np
from methods import best_so_far, budget_runs, make

BOUND = 5.0


def run(job):
    """Best-so-far log10 regret at each budget for one (method, function, dimension, seed)."""
    import cocoex

    method, fid, dim, seed, budgets = job
    suite = cocoex.Suite("bbob", "", f"dimensions:{dim} function_indices:{fid} instance_indices:1")
    problem = next(iter(suite))
    f_opt = _optimum(problem)
    spec = {f"x{i}": {"type": "float", "low": -BOUND, "high": BOUND} for i in range(dim)}
    best = best_so_far(make(method, spec, seed, max(budgets)),
                       lambda params: float(problem([params[f"x{i}"] for i in range(dim)])), budgets)
    return {t: math.log10(max(value - f_opt, 1e-8)) for t, value in best.items()}


def _optimum(problem) -> float:
    """f at the suite's known optimum (cocoex writes it to a file in the working directory)."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            problem._best_parameter("print")
            x = np.loadtxt("._bbob_problem_best_parameter.txt")
        finally:
            os.chdir(cwd)
    return float(problem(np.atleast_1d(x)))


def jobs(methods, functions, dims, budgets, seeds) -> list[tuple]:
    return [(m, f, d, seed, runs) for m in methods for f in functions for d in dims for seed in seeds
            for runs in budget_runs(m, budgets)]


def cells(job_list, results) -> dict:
    """(method, dim, budget) -> median over functions of the mean over seeds."""
    per_function = {}
    for (method, fid, dim, _, _), out in zip(job_list, results):
        for budget, value in out.items():
            per_function.setdefault((method, dim, int(budget), fid), []).append(value)
    grouped = {}
    for (method, dim, budget, _), values in per_function.items():
        grouped.setdefault((method, dim, budget), []).append(statistics.mean(values))
    return {k: statistics.median(v) for k, v in grouped.items()}
