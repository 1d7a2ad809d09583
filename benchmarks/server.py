"""Mixed objectives shaped like server tuning: categorical, log int, stepped and plain floats; and a
conditional one (speculative decoding on or off, its token count only when on)."""
from __future__ import annotations

import math

import multi_objective
from methods import best_so_far, budget_runs, make

SPACE = {
    "tp": [1, 2, 4],
    "max_num_seqs": {"type": "int", "low": 16, "high": 1024, "log": True},
    "mem_fraction": {"type": "float", "low": 0.70, "high": 0.95, "step": 0.05},
    "chunked_prefill": [2048, 4096, 8192],
    "policy": ["lpm", "fcfs"],
    "swap_gb": {"type": "float", "low": 0.0, "high": 16.0},
}


def objective(p: dict) -> float:
    """Negative tokens/s per GPU under a latency SLO: concurrency helps until memory runs out, tp costs
    per-GPU efficiency, prefill chunking has a sweet spot, and lpm helps at high concurrency."""
    seqs, mem = p["max_num_seqs"], p["mem_fraction"]
    capacity = 1500 * (mem - 0.6) * p["tp"] + 40 * p["swap_gb"] ** 0.5
    throughput = 3000 * (1 - math.exp(-seqs / 180)) * (0.92 ** (p["tp"] - 1))
    throughput *= {2048: 0.93, 4096: 1.0, 8192: 0.96}[p["chunked_prefill"]]
    throughput *= 1.06 if p["policy"] == "lpm" and seqs > 128 else 1.0
    throughput -= 2.0 * p["swap_gb"] ** 1.5
    overload = max(0.0, seqs - capacity) / capacity
    latency = 1.0 + 4.0 * overload ** 2 + seqs / 900
    penalty = max(0.0, (latency - 2.0) / 2.0)
    return -(throughput / p["tp"] ** 0.5) * (1 + penalty) ** -3


def jobs(methods, seeds, budgets) -> list[tuple]:
    return [(m, seed, runs) for m in methods for seed in seeds for runs in budget_runs(m, budgets)]


def run(job):
    """Best-so-far objective at each budget for one (method, seed)."""
    method, seed, budgets = job
    return best_so_far(make(method, SPACE, seed, max(budgets)), objective, budgets)


# The multi-objective benchmark's server problem, with speculative decoding and its conditional token count.
CONDITIONAL_SPACE = multi_objective.SERVER_SPACE


def conditional_objective(p: dict) -> float:
    """Negative tokens/s per GPU under a p90 latency SLO of 1 s: beyond it the score is penalised as in
    `objective`, so speculative decoding pays where it brings a high concurrency under the SLO."""
    throughput, latency = multi_objective.server(p)
    penalty = max(0.0, latency - 1.0)
    return throughput * 1000 * (1 + penalty) ** -3


def run_conditional(job):
    method, seed, budgets = job
    return best_so_far(make(method, CONDITIONAL_SPACE, seed, max(budgets)), conditional_objective, budgets)
