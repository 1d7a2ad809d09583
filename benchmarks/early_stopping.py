"""Early-stopping benchmark: best eval loss against epochs spent on the real training example
(tasks/workloads/train_mlp.py, the spiral MLP trained with numpy), over several seeds.

autotune's TPE without stopping and with its asha, hyperband and median schedulers, and the default
strategy (auto) without stopping and with asha, run through the real study loop (strategy, scheduler,
journal, checkpoints) with the inline executor calling the same training function in this process;
Optuna's TPE runs with its SuccessiveHalvingPruner, HyperbandPruner and MedianPruner on that function
too, and, to tell the schedulers from the samplers, with autotune's schedulers deciding instead of
Optuna's pruners. Each stopping method decides first at epoch 1 and, marked @GRACE, at epoch GRACE
(Optuna's TPE with autotune's hyperband and median from epoch 1 only). Every method gets the epochs that
full evaluation spends on FULL_TRIALS trials; a trial costs the epochs it reported (its `step`), and
only completed trials count for the best loss. Prints a table; asserts nothing. Needs the `bench` extra:
pip install -e '.[bench]'.

    python benchmarks/early_stopping.py            # 10 seeds (about 13 minutes on 2 cores)
    python benchmarks/early_stopping.py --quick    # 2 seeds, a smoke run
    python benchmarks/early_stopping.py --first-seed 10 --seeds 20 --methods autotune-auto+asha@9
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import threading
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tasks" / "workloads"))
from train_mlp import train  # noqa: E402  (the example's own training function)

MAX_STEP = 81           # epochs of a full trial, as tasks/train-mlp-asha.yaml
REDUCTION_FACTOR = 3
FULL_TRIALS = 30        # the budget: what full evaluation spends on this many trials
SPACE = {
    "lr": {"type": "float", "low": 0.003, "high": 3.0, "log": True},
    "batch_size": [16, 32, 64, 128],
    "l2": {"type": "float", "low": 1e-6, "high": 0.1, "log": True},
    "hidden": {"type": "int", "low": 4, "high": 64, "log": True},
}
OURS = ("none", "asha", "hyperband", "median")
OPTUNA = ("sha", "hyperband", "median")
# A method is sampler+scheduler, with @N for a first decision at epoch N instead of 1 (min_step; Optuna's
# min_resource and n_warmup_steps). GRACE is past the epochs where the example's curves cross: its best
# configurations (the highest learning rates) have some of the worst losses at epochs 1 to 3.
GRACE = 9
METHODS = ([f"autotune-tpe+{s}" for s in OURS] + ["autotune-auto+none", "autotune-auto+asha"]
           + [f"optuna-tpe+{p}" for p in OPTUNA] + [f"optuna-tpe+autotune-{s}" for s in OURS[1:]]
           + [f"autotune-tpe+{s}@{GRACE}" for s in OURS[1:]] + [f"autotune-auto+asha@{GRACE}"]
           + [f"optuna-tpe+{p}@{GRACE}" for p in OPTUNA] + [f"optuna-tpe+autotune-asha@{GRACE}"])


class Stopped(Exception):
    """Raised from the epoch callback to end a run where it was stopped."""


def fit(params: dict, on_epoch) -> float:
    """The example's training run with these params for MAX_STEP epochs; its final eval loss (nan if diverged)."""
    with np.errstate(all="ignore"):
        loss, _ = train(params["lr"], params["batch_size"], MAX_STEP, params["l2"], params["hidden"], on_epoch=on_epoch)
    return loss


def inline_trial(params, context):
    """autotune's side: an inline-executor trial reporting each epoch, ending when the scheduler says stop."""
    def on_epoch(epoch, loss):
        context.report(epoch, eval_loss=loss)
        if context.stopped.is_set():
            raise Stopped

    try:
        return {"eval_loss": fit(params, on_epoch)}
    except Stopped:
        return {}


# -- the two runners: each returns [(epochs spent by the trial, its final loss or None if not completed)] --
def run_autotune(strategy: str, scheduler: str, seed: int, budget: int,
                 min_step: int = 1) -> list[tuple[int, float | None]]:
    from autotune import Study, run_study
    from autotune.progress import Listener

    stop, trials = threading.Event(), []

    class Spend(Listener):
        def trial_finished(self, study, trial):
            trials.append((trial["step"] or 0, trial["value"] if trial["status"] == "completed" else None))
            if sum(epochs for epochs, _ in trials) >= budget:
                stop.set()

    stopping = {"name": scheduler, "max_step": MAX_STEP}
    if scheduler != "none":
        stopping.update(min_step=min_step, **({"reduction_factor": REDUCTION_FACTOR} if scheduler != "median" else {}))
    task = {"name": f"bench-{scheduler}", "executor": {"name": "inline", "function": "early_stopping:inline_trial"},
            "workdir": str(Path(__file__).resolve().parent), "parameters": SPACE, "objective": "eval_loss",
            "strategy": {"name": strategy, "seed": seed}, "early_stopping": stopping,
            "budget": {"max_trials": 100_000, "fail_fast": False}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "task.yaml"
        path.write_text(yaml.safe_dump(task))
        study = Study.create(path, Path(tmp) / "study")
        try:
            run_study(study, stop=stop, listener=Spend())
        finally:
            study.close()
    return trials


def run_optuna(pruner_name: str, seed: int, budget: int, min_step: int = 1) -> list[tuple[int, float | None]]:
    """Optuna's TPE with one of its pruners, or with an autotune scheduler ("autotune-asha") deciding."""
    import optuna

    from autotune.schedulers import SCHEDULERS, create_scheduler

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    scheduler = None
    if pruner_name.startswith("autotune-"):
        name = pruner_name.removeprefix("autotune-")
        options = {"min_step": min_step, "max_step": MAX_STEP, "reduction_factor": REDUCTION_FACTOR}
        scheduler = create_scheduler(name, {k: v for k, v in options.items() if k in SCHEDULERS[name].OPTIONS},
                                     seed=seed)
        pruner = optuna.pruners.NopPruner()
    else:
        pruner = {"sha": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=min_step,
                                                                       reduction_factor=REDUCTION_FACTOR),
                  "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=min_step, max_resource=MAX_STEP,
                                                                     reduction_factor=REDUCTION_FACTOR),
                  "median": lambda: optuna.pruners.MedianPruner(n_warmup_steps=min_step)}[pruner_name]()
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    trials = []

    def objective(trial):
        params = {"lr": trial.suggest_float("lr", 0.003, 3.0, log=True),
                  "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
                  "l2": trial.suggest_float("l2", 1e-6, 0.1, log=True),
                  "hidden": trial.suggest_int("hidden", 4, 64, log=True)}
        spent = [0]

        def on_epoch(epoch, loss):
            spent[0] = epoch
            trial.report(loss, epoch)
            if scheduler is not None:
                stop = scheduler.on_report(trial.number, epoch, loss if math.isfinite(loss) else None) == "stop"
            else:
                stop = trial.should_prune()
            if stop:
                raise Stopped

        try:
            loss = fit(params, on_epoch)
        except Stopped:
            trials.append((spent[0], None))
            raise optuna.TrialPruned() from None
        finally:
            if scheduler is not None:
                scheduler.on_finish(trial.number)
        trials.append((spent[0], loss if math.isfinite(loss) else None))
        if sum(epochs for epochs, _ in trials) >= budget:
            trial.study.stop()
        return loss  # nan: Optuna records a failed trial

    study.optimize(objective, n_trials=100_000)
    return trials


def parse_method(method: str) -> tuple[str, str, int]:
    """sampler, scheduler (or pruner) and first step of a method name; ValueError for one not runnable."""
    sampler, _, name = method.partition("+")
    name, grace, min_step = name.partition("@")
    stoppers = OURS if sampler.startswith("autotune-") else OPTUNA + tuple(f"autotune-{s}" for s in OURS[1:])
    if sampler not in ("autotune-tpe", "autotune-auto", "optuna-tpe") or name not in stoppers \
            or (grace and (not min_step.isdigit() or int(min_step) < 1 or name == "none")):
        raise ValueError(f"unknown method {method!r}: sampler+scheduler[@first step], as in {METHODS[-1]}")
    return sampler, name, int(min_step or 1)


def one_run(job):
    method, seed, budget = job
    sampler, name, min_step = parse_method(method)
    if sampler.startswith("autotune"):
        trials = run_autotune(sampler.removeprefix("autotune-"), name, seed, budget, min_step)
    else:
        trials = run_optuna(name, seed, budget, min_step)
    return method, seed, trials


def best_by_epoch(trials: list[tuple[int, float | None]], epochs: int) -> np.ndarray:
    """For every budget from 0 to `epochs` epochs, the best completed loss among the trials that finished
    within it (inf if none)."""
    best = np.full(epochs + 1, math.inf)
    value, spent = math.inf, 0
    for cost, loss in trials:
        if spent + cost > epochs:
            break
        spent += cost
        if loss is not None and loss < value:
            value = loss
            best[spent:] = value
    return best


def reached_at(curves: list[np.ndarray], target: float) -> str:
    """The first budget at which the mean of these best-loss curves is at or below `target`."""
    reached = np.flatnonzero(np.mean(curves, axis=0) <= target)
    return f"{reached[0]} ({reached[0] / (len(curves[0]) - 1):.0%})" if len(reached) else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 seeds")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated; full evaluation (autotune-tpe+none) is always run")
    parser.add_argument("--save", type=Path, help="write every run's trials (epochs, loss) to this JSON file")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + (2 if args.quick else args.seeds))
    named = [m.strip() for m in args.methods.split(",")]
    methods = ["autotune-tpe+none"] + [m for m in named if m != "autotune-tpe+none"]
    for method in methods:
        try:
            parse_method(method)
        except ValueError as error:
            parser.error(str(error))
    budget = FULL_TRIALS * MAX_STEP
    with Pool(args.processes) as pool:
        results = pool.map(one_run, [(m, s, budget) for m in methods for s in seeds], chunksize=1)
    runs = {(method, seed): trials for method, seed, trials in results}
    if args.save:
        args.save.write_text(json.dumps([{"method": m, "seed": s, "trials": t} for m, s, t in results]))
    print_tables(runs, methods, seeds, budget, args.processes)


def print_tables(runs: dict, methods: list[str], seeds, budget: int, processes: int) -> None:
    fractions = (1 / 27, 1 / 9, 1 / 3, 1)
    curves = {key: best_by_epoch(trials, budget) for key, trials in runs.items()}

    def best_at(method: str, seed: int, share: float) -> float:
        return curves[(method, seed)][round(share * budget)]

    full = {s: best_at("autotune-tpe+none", s, 1) for s in seeds}
    print(f"#### Best eval loss at a share of the {budget} epochs that full evaluation spends on {FULL_TRIALS} "
          f"trials of {MAX_STEP} epochs: mean over {len(seeds)} seeds (median), lower is better\n")
    print("| method | " + " | ".join(f"{round(f * budget)} epochs" for f in fractions)
          + " | trials | stopped early | seeds at or below full evaluation at 1/3 | full evaluation's mean reached at |")
    print("|---" * (len(fractions) + 5) + "|")
    target = _mean(list(full.values()))
    for method in methods:
        cells = []
        for f in fractions:
            values = [best_at(method, s, f) for s in seeds]
            cells.append(f"{_mean(values):.4f} ({statistics.median(values):.4f})")
        trials = [runs[(method, s)] for s in seeds]
        n = statistics.mean(len(t) for t in trials)
        stopped = statistics.mean(sum(1 for cost, _ in t if cost < MAX_STEP) for t in trials)
        wins = sum(best_at(method, s, 1 / 3) <= full[s] for s in seeds)
        print(f"| {method} | " + " | ".join(cells) + f" | {n:.0f} | {stopped:.0f} | {wins}/{len(seeds)} | "
              f"{reached_at([curves[(method, s)] for s in seeds], target)} |")
    print(f"\nFull evaluation (autotune-tpe+none) reaches {target:.4f} with all {budget} epochs. "
          f"'stopped early': trials that ended before epoch {MAX_STEP} (pruned, or failed on a diverged loss); "
          "inf: no completed trial yet in some seed. 'full evaluation's mean reached at': the fewest epochs at which "
          "the method's mean best loss is at or below that (-: not within the budget).\n")
    print("#### At equal epochs: autotune's schedulers against Optuna's pruners (difference of the means; "
          "seeds where autotune's is lower or equal)\n")
    print("| autotune | optuna | " + " | ".join(f"{round(f * budget)} epochs" for f in fractions[1:]) + " |")
    print("|---" * (len(fractions) + 1) + "|")
    for grace in sorted({"".join(m.partition("@")[1:]) for m in methods}):  # "", "@9", ...
        for ours, theirs in (("asha", "sha"), ("hyperband", "hyperband"), ("median", "median")):
            rival = f"optuna-tpe+{theirs}{grace}"
            deciding = [m for m in methods if (m.startswith("autotune-") and m.endswith(f"+{ours}{grace}"))
                        or m.endswith(f"+autotune-{ours}{grace}")]
            for mine in deciding if rival in methods else []:
                cells = []
                for f in fractions[1:]:
                    a = [best_at(mine, s, f) for s in seeds]
                    b = [best_at(rival, s, f) for s in seeds]
                    wins = sum(x <= y for x, y in zip(a, b))
                    cells.append(f"{_mean(a) - _mean(b):+.4f}, {wins}/{len(seeds)}")
                print(f"| {mine} | {rival} | " + " | ".join(cells) + " |")
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, optuna {importlib.metadata.version('optuna')}; "
          f"{processes} processes.")


def _mean(values: list[float]) -> float:
    return statistics.mean(values) if all(math.isfinite(v) for v in values) else math.inf


if __name__ == "__main__":
    main()
