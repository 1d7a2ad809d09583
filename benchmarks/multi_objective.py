"""Multi-objective benchmark: autotune's default strategy (auto, which picks gp here) and its tpe against
Optuna's multi-objective TPE and NSGA-II (random search for scale) on ZDT1, ZDT2, ZDT3, DTLZ2 (three
objectives) and a two-objective, conditional server-tuning problem: the hypervolume of each one's Pareto
front after 50 and 100 trials. Prints a table; asserts nothing. Needs the `bench` extra:
pip install -e '.[bench]'.

    python benchmarks/multi_objective.py            # the full run: 10 seeds (about 5 minutes on 2 cores)
    python benchmarks/multi_objective.py --quick    # a smoke run
"""
from __future__ import annotations

import argparse
import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from multiprocessing import Pool

import numpy as np

from autotune import Space, create_strategy
from autotune.pareto import hypervolume, nondominated
from methods import ask_define_by_run, optuna_distributions

STRATEGIES = ("autotune-auto", "autotune-tpe", "optuna-tpe", "optuna-nsga2", "autotune-random")
BUDGETS = (50, 100)


# -- problems: a space, a function to minimise in every objective, and the hypervolume's reference point --
def _unit(n: int) -> dict:
    return {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(n)}


def _xs(p: dict, n: int) -> np.ndarray:
    return np.array([p[f"x{i}"] for i in range(n)])


def zdt1(p: dict) -> list[float]:
    x = _xs(p, 30)
    g = 1 + 9 * x[1:].mean()
    return [x[0], g * (1 - math.sqrt(x[0] / g))]


def zdt2(p: dict) -> list[float]:
    x = _xs(p, 30)
    g = 1 + 9 * x[1:].mean()
    return [x[0], g * (1 - (x[0] / g) ** 2)]


def zdt3(p: dict) -> list[float]:
    x = _xs(p, 30)
    g = 1 + 9 * x[1:].mean()
    return [x[0], g * (1 - math.sqrt(x[0] / g) - x[0] / g * math.sin(10 * math.pi * x[0]))]


def dtlz2(p: dict) -> list[float]:
    """Three objectives, 12 variables (k = 10)."""
    x = _xs(p, 12)
    g = float(((x[2:] - 0.5) ** 2).sum())
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [(1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b), (1 + g) * math.sin(a)]


SERVER_SPACE = {
    "tp": [1, 2, 4],
    "max_num_seqs": {"type": "int", "low": 8, "high": 1024, "log": True},
    "mem_fraction": {"type": "float", "low": 0.70, "high": 0.95, "step": 0.05},
    "chunked_prefill": [2048, 4096, 8192],
    "speculative": [True, False],
    "num_speculative_tokens": {"type": "int", "low": 1, "high": 8, "when": {"speculative": True}},
}


def server(p: dict) -> list[float]:
    """[-tokens/s per GPU / 1000, p90 latency in s]: more sequences raise throughput and latency until
    memory runs out; tp trades per-GPU throughput for latency; speculative decoding cuts latency at low
    concurrency and costs throughput (and latency) at high, more so with more tokens."""
    seqs, tp = p["max_num_seqs"], p["tp"]
    capacity = 1500 * (p["mem_fraction"] - 0.6) * tp
    overload = max(0.0, seqs - capacity) / capacity
    throughput = 3000 * (1 - math.exp(-seqs / 180)) * 0.92 ** (tp - 1) / tp ** 0.5
    throughput *= {2048: 0.93, 4096: 1.0, 8192: 0.96}[p["chunked_prefill"]] / (1 + overload) ** 2
    latency = (0.4 + seqs / 300 + 4 * overload ** 2) / tp ** 0.4
    if p["speculative"]:
        k, load = p["num_speculative_tokens"], seqs / 256
        latency *= 1 - 0.45 * (1 - math.exp(-k / 3)) + 0.05 * k * load
        throughput *= 1 - 0.02 * k * load
    return [-throughput / 1000, latency]


PROBLEMS = {  # name: (space, function, reference point)
    "ZDT1": (_unit(30), zdt1, (11.0, 11.0)),
    "ZDT2": (_unit(30), zdt2, (11.0, 11.0)),
    "ZDT3": (_unit(30), zdt3, (11.0, 11.0)),
    "DTLZ2": (_unit(12), dtlz2, (3.5, 3.5, 3.5)),
    "server": (SERVER_SPACE, server, (0.0, 10.0)),
}


# -- strategies behind one ask/tell interface --------------------------------------------------------
class Ours:
    """Told the budget and the number of objectives, as `autotune run` tells them (auto chooses by both).
    Told the largest budget and read at the smaller: exact while every budget is 40 or more, from where
    gp's start no longer depends on it (the strategy benchmark runs each budget on its own)."""

    def __init__(self, name: str, spec: dict, seed: int, n_objectives: int):
        self.strategy = create_strategy({"name": name, "seed": seed}, Space.from_spec(spec), max_trials=max(BUDGETS),
                                        objectives=n_objectives)

    def ask(self) -> dict:
        return self.strategy.ask()

    def tell(self, params: dict, values: list[float]) -> None:
        self.strategy.tell(params, values)


class Optuna:
    """Optuna's samplers asked define-by-run, so a conditional parameter is suggested only when active."""

    def __init__(self, name: str, spec: dict, seed: int, n_objectives: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        sampler = {"tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler}[name](seed=seed)
        self.study = optuna.create_study(sampler=sampler, directions=["minimize"] * n_objectives)
        self.space, self.distributions = Space.from_spec(spec), optuna_distributions(spec)
        self.trial = None  # asks and tells alternate here

    def ask(self) -> dict:
        self.trial, params = ask_define_by_run(self.study, self.space, self.distributions)
        return params

    def tell(self, params: dict, values: list[float]) -> None:
        self.study.tell(self.trial, values)


def make(strategy: str, spec: dict, seed: int, n_objectives: int):
    owner, name = strategy.split("-")
    return (Ours if owner == "autotune" else Optuna)(name, spec, seed, n_objectives)


def run(job):
    """The hypervolume of the front found after each budget, for one (strategy, problem, seed)."""
    strategy, problem, seed = job
    spec, function, reference = PROBLEMS[problem]
    runner = make(strategy, spec, seed, len(reference))
    points, out = [], {}
    for t in range(1, max(BUDGETS) + 1):
        params = runner.ask()
        values = function(params)
        runner.tell(params, values)
        points.append(values)
        if t in BUDGETS:
            front = np.array(points)[nondominated(points)]
            out[t] = hypervolume(front, reference)
    return strategy, problem, seed, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 seeds")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    seeds = range(2 if args.quick else 10)

    versions = {name: importlib.metadata.version(name) for name in ("optuna", "numpy")}
    print(f"# autotune multi-objective benchmark ({'quick' if args.quick else 'full'})")
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items())
          + f", {platform.machine()}, {os.cpu_count()} cores")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}\n")

    started = time.time()
    jobs = [(s, p, seed) for p in PROBLEMS for s in STRATEGIES for seed in seeds]
    with Pool(args.processes) as pool:
        results = pool.map(run, jobs, chunksize=1)
    hv: dict = {}
    for strategy, problem, _, out in results:
        for budget, value in out.items():
            hv.setdefault((strategy, problem, budget), []).append(value)

    print(f"## Hypervolume of the Pareto front found (higher is better): median over {len(seeds)} seeds "
          "(min-max); reference points ZDT (11, 11), DTLZ2 (3.5, 3.5, 3.5), server (0, 10)\n")
    ours = ("autotune-auto", "autotune-tpe")
    print("| problem | trials | " + " | ".join(STRATEGIES) + " | " +
          " | ".join(f"{s} vs the better Optuna" for s in ours) + " |")
    print("|---|---|" + "---|" * (len(STRATEGIES) + len(ours)))
    held = dict.fromkeys(ours, 0)
    for problem in PROBLEMS:
        for budget in BUDGETS:
            medians = {s: statistics.median(hv[(s, problem, budget)]) for s in STRATEGIES}
            cells = [f"{medians[s]:.4g} ({min(hv[(s, problem, budget)]):.4g}-{max(hv[(s, problem, budget)]):.4g})"
                     for s in STRATEGIES]
            rival = max(("optuna-tpe", "optuna-nsga2"), key=lambda s: medians[s])
            for s in ours:
                ok = medians[s] >= medians[rival]
                held[s] += ok
                change = (medians[s] - medians[rival]) / abs(medians[rival]) if medians[rival] else 0.0
                cells.append(f"{'no worse' if ok else 'worse'} than {rival} ({change:+.1%})")
            print(f"| {problem} | {budget} | " + " | ".join(cells) + " |")
    print()
    for s in ours:
        print(f"{s} no worse than the better of Optuna's TPE and NSGA-II (by median) in {held[s]} of "
              f"{len(PROBLEMS) * len(BUDGETS)} cells")
    choices = sorted({create_strategy("auto", Space.from_spec(spec), max_trials=max(BUDGETS),
                                      objectives=len(reference)).describe() for spec, _, reference in PROBLEMS.values()})
    print("; ".join(choices) + f" (total {time.time() - started:.0f}s)")

if __name__ == "__main__":
    main()
