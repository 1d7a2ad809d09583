"""Strategy benchmark: our strategies against Optuna's samplers and nevergrad's NGOpt on the COCO bbob
suite, a mixed server-tuning objective and real scikit-learn tuning problems, plus what asking costs.
Prints tables side by side; asserts nothing (speed and quality goals live here, not in tests). Needs the
`bench` extra: pip install -e '.[bench]'.

    python benchmarks/strategies.py                  # the full protocol (many hours on 2 cores: see README)
    python benchmarks/strategies.py --quick          # a smoke run
    python benchmarks/strategies.py --seeds 5 --cache /tmp/bench   # fewer seeds; resumable

--cache keeps every finished run in a directory, so an interrupted run resumes where it stopped and a
change to one strategy reruns only that strategy's runs.
"""
from __future__ import annotations

import os

# Worker processes share two cores: a multithreaded BLAS spins against itself (a 100x100 inverse took
# 18 ms instead of 0.4 ms under load here). Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import importlib.metadata
import platform
import statistics
import sys
import time

import ask_cost
import bbob
import server
import sklearn_tuning
from jobs import run_jobs
from methods import OURS, THEIRS

from autotune import Space, create_strategy

METHODS = OURS + THEIRS
# The methods that take conditional parameters (Optuna's asked define-by-run), for the conditional section.
CONDITIONAL_METHODS = ("autotune-auto", "autotune-gp", "autotune-tpe", "autotune-random", "optuna-tpe", "optuna-random")
PACKAGES = ("numpy", "optuna", "torch", "scipy", "cmaes", "nevergrad", "scikit-learn", "coco-experiment")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def best_of(values: dict, names, lower=True) -> str:
    pick = min if lower else max
    return pick(names, key=lambda n: values[n])


def print_bbob(methods, cells, dims, budgets, seeds, functions) -> None:
    print(f"## COCO bbob f{functions[0]}-f{functions[-1]}, instance 1, {seeds}: median over functions of the mean "
          "log10 regret (lower is better)\n")
    optuna = [m for m in methods if m.startswith("optuna-")]
    rows = []
    for d in dims:
        for b in budgets:
            row = [d, b] + [f"{cells[(m, d, b)]:.3f}" for m in methods]
            auto = cells.get(("autotune-auto", d, b))
            if auto is not None and optuna:
                best_optuna = min(cells[(m, d, b)] for m in optuna)
                row.append(f"{auto - best_optuna:+.3f}")
            if auto is not None and ("ngopt-random", d, b) in cells:
                row.append(f"{auto - cells[('ngopt-random', d, b)]:+.3f}")
            rows.append(row)
    extra = (["auto - best optuna"] if "autotune-auto" in methods and optuna else []) + \
        (["auto - ngopt-random"] if {"autotune-auto", "ngopt-random"} <= set(methods) else [])
    print(table(["dim", "budget"] + list(methods) + extra, rows))
    print("\n(negative differences: auto is better)\n")


def paired_difference(ours: list[float], theirs: list[float]) -> str:
    """The mean of the differences seed by seed, with its standard error: seeds differ far more than
    methods do on this objective, so an unpaired comparison of two means would hide a real gap."""
    differences = [a - b for a, b in zip(ours, theirs)]
    error = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else float("nan")
    return f"{statistics.mean(differences):+.0f} ± {error:.0f}"


def print_server(job_list, results, methods, budgets, rivals) -> None:
    """A table of the best tokens/s per GPU by budget: mean (median) per method, the best by the mean,
    and auto's paired difference to each rival."""
    best = {}  # (method, budget) -> best tokens/s per GPU by seed
    for (m, _, _), out in zip(job_list, results):
        for b, value in out.items():
            best.setdefault((m, int(b)), []).append(-value)
    rivals = [r for r in rivals if {"autotune-auto", r} <= set(methods)]
    rows = []
    for b in budgets:
        means = {m: statistics.mean(best[(m, b)]) for m in methods}
        row = [b] + [f"{means[m]:.0f} ({statistics.median(best[(m, b)]):.0f})" for m in methods]
        row.append(best_of(means, methods, lower=False))
        row += [paired_difference(best[("autotune-auto", b)], best[(r, b)]) for r in rivals]
        rows.append(row)
    extra = [f"auto - {r} (mean, standard error)" for r in rivals]
    print(table(["budget"] + list(methods) + ["best by the mean"] + extra, rows) + "\n")


def auto_choices(spec: dict, budgets) -> str:
    """What auto chose at each budget (its choice can differ by budget)."""
    return "; ".join(create_strategy("auto", Space.from_spec(spec), max_trials=b).describe() for b in budgets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few functions, seeds and trials")
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seeds", type=int, help="bbob seeds (default 20; quick 2)")
    parser.add_argument("--methods", help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--slow-seeds", type=int, help="bbob seeds for optuna-gp, whose ask costs about 0.3 s "
                        "(default: as --seeds; 0 leaves it out of bbob)")
    parser.add_argument("--server-seeds", type=int, help="seeds of the server-shaped objectives (default 100; "
                        "quick 3): at 20 trials one seed's best varies by hundreds of tokens/s")
    parser.add_argument("--sklearn-seeds", type=int, help="seeds of the scikit-learn problems (default 10; quick 2): "
                        "with 3, which points a start draws moved a rank by 0.4")
    parser.add_argument("--dims", help="bbob dimensions, comma-separated (default 2,5,10; quick 2,5)")
    parser.add_argument("--sections", default="bbob,server,conditional,sklearn,cost", help="which tables to print")
    parser.add_argument("--cache", help="directory that keeps finished runs (resumable)")
    args = parser.parse_args()
    methods = tuple(args.methods.split(",")) if args.methods else METHODS
    sections = args.sections.split(",")
    functions = [1, 7, 15, 21] if args.quick else list(range(1, 25))
    dims = [int(d) for d in args.dims.split(",")] if args.dims else [2, 5] if args.quick else [2, 5, 10]
    seeds = args.seeds or (2 if args.quick else 20)
    slow_seeds = seeds if args.slow_seeds is None else min(args.slow_seeds, seeds)
    budgets = [20, 50, 100]
    server_seeds = args.server_seeds or (3 if args.quick else 100)

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    print(f"# autotune strategy benchmark ({'quick' if args.quick else 'full'})")
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items())
          + f", {os.cpu_count()} cores, {args.processes} worker processes")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}\n")
    started = time.time()

    if "bbob" in sections:
        bbob_methods = tuple(m for m in methods if m != "optuna-gp" or slow_seeds > 0)
        job_list = [job for job in bbob.jobs(bbob_methods, functions, dims, budgets, range(seeds))
                    if job[0] != "optuna-gp" or job[3] < slow_seeds]
        cells = bbob.cells(job_list, run_jobs(bbob.run, job_list, args.processes, args.cache, "bbob"))
        label = f"{seeds} seeds" + (f" ({slow_seeds} for optuna-gp)" if "optuna-gp" in bbob_methods
                                    and slow_seeds < seeds else "")
        print_bbob(bbob_methods, cells, dims, budgets, label, functions)
        if len(bbob_methods) < len(methods):
            print("(optuna-gp left out: --slow-seeds 0)\n")
        print("; ".join(auto_choices({f"x{i}": {"type": "float", "low": -5, "high": 5} for i in range(d)}, budgets)
                        for d in dims) + "\n")

    if "server" in sections:
        job_list = server.jobs(methods, range(server_seeds), budgets)
        results = run_jobs(server.run, job_list, args.processes, args.cache, "server")
        print(f"## Mixed server-shaped objective (6 parameters: categorical, log int, stepped and plain floats), "
              f"{server_seeds} seeds: mean (median) best tokens/s per GPU (higher is better)\n")
        print_server(job_list, results, methods, budgets, ("optuna-tpe",))
        print(auto_choices(server.SPACE, budgets) + "\n")

    conditional_methods = tuple(m for m in methods if m in CONDITIONAL_METHODS)
    if "conditional" in sections and conditional_methods:
        job_list = server.jobs(conditional_methods, range(server_seeds), budgets)
        results = run_jobs(server.run_conditional, job_list, args.processes, args.cache, "conditional")
        print(f"## Conditional server-shaped objective (tp, log int, stepped float, chunked prefill, speculative "
              f"decoding on or off with a conditional token count; a p90 latency SLO), {server_seeds} seeds: mean "
              f"(median) best tokens/s per GPU (higher is better)\n")
        print_server(job_list, results, conditional_methods, budgets, ("optuna-tpe", "autotune-tpe"))
        print(auto_choices(server.CONDITIONAL_SPACE, budgets) + "\n")

    if "sklearn" in sections:
        sk_budgets, sk_seeds = [16, 32], args.sklearn_seeds or (2 if args.quick else 10)
        job_list = sklearn_tuning.jobs(methods, sk_budgets, range(sk_seeds))
        if args.quick:
            job_list = [job for job in job_list if job[1] in sklearn_tuning.PROBLEMS[:3]]
        results = run_jobs(sklearn_tuning.run, job_list, args.processes, args.cache, "sklearn")
        ranks = sklearn_tuning.mean_ranks(job_list, results, methods)
        problems = sorted({tuple(job[1]) for job in job_list}, key=sklearn_tuning.PROBLEMS.index)
        print(f"## scikit-learn tuning problems ({len(problems)}: bayesmark's models and spaces on bundled data "
              f"sets, 5-fold CV), {sk_seeds} seeds: mean rank over problems of the mean best loss (1 is best)\n")
        rows = [[b] + [f"{ranks[(m, b)]:.2f}" for m in methods] + [best_of({m: ranks[(m, b)] for m in methods}, methods)]
                for b in sk_budgets]
        print(table(["budget"] + list(methods) + ["best"], rows) + "\n")
        print("Problems: " + ", ".join(sklearn_tuning.name(p) for p in problems) + "\n")
        choices = sorted({auto_choices(sklearn_tuning.SPACES[p[0]], sk_budgets) for p in problems})
        print("; ".join(choices) + "\n")

    if "cost" in sections:
        checkpoints = [100, 300] if args.quick else [100, 1000, 2000]
        pairs = [m for m in ("autotune-tpe", "optuna-tpe") if m in methods]
        timings = dict(zip(pairs, run_jobs(ask_cost.ask_tell, [(m, tuple(checkpoints)) for m in pairs],
                                           args.processes, None, "cost")))
        if len(pairs) == 2:
            print("## ask+tell time per trial on the mixed space (ms)\n")
            rows = [[c, f"{timings['autotune-tpe'][str(c)] * 1000:.2f}", f"{timings['optuna-tpe'][str(c)] * 1000:.2f}",
                     f"{timings['optuna-tpe'][str(c)] / timings['autotune-tpe'][str(c)]:.0f}x"] for c in checkpoints]
            print(table(["trials", "autotune-tpe", "optuna-tpe", "ratio"], rows) + "\n")
        gp_jobs = [(m, n) for m in ("autotune-gp",) for n in (100, 500)]
        asks = run_jobs(ask_cost.gp_ask, gp_jobs, 1, None, "gp-ask")  # one process: a timing, not a race
        print("## gp: ask time on 10 numeric dimensions, median of 5 asks (goals: 50 ms at 100 trials, 1 s at 500)\n")
        print(table(["trials", "ask (ms)"], [[n, f"{t * 1000:.0f}"] for (_, n), t in zip(gp_jobs, asks)]) + "\n")

    print(f"(total {time.time() - started:.0f}s)")


if __name__ == "__main__":
    main()
