"""Runner cost: what autotune itself spends per trial, early and late in a long study, and what opening
a 10,000-trial study costs. Prints figures and ratios measured in one run; asserts nothing.

    python benchmarks/runner.py            # trials 1-300 and 2700-3000 of a trivial command, a 10,000-trial study
    python benchmarks/runner.py --quick    # a smoke run
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from autotune import Study, build_report, run_study
from autotune.executors.inline import InlineExecutor
from autotune.storage import read_journal

# A trivial trial: /bin/echo prints the metrics line; no interpreter starts.
TRIVIAL = {"name": "runner-cost", "command": ["/bin/echo", '{{"loss": {x}, "other": {y}}}'],
           "parameters": {"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "float", "low": 0, "high": 1}},
           "objective": {"metric": "loss", "direction": "minimize"}, "strategy": {"name": "random", "seed": 1}}


def spawn_cost(n: int) -> float:
    """Seconds to spawn and wait for the trivial command with pipes, as the executor does, outside autotune."""
    started = time.perf_counter()
    for _ in range(n):
        subprocess.run(["/bin/echo", '{"loss": 0.5, "other": 0.5}'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       start_new_session=True)
    return (time.perf_counter() - started) / n


def filesystem_floor(directory: Path, n: int) -> float:
    """Seconds a trial's files cost the file system alone: the layout DESIGN.md fixes (a directory, five
    small files, a journal line fsynced, checkpoint.json replaced by a rename) written by a bare loop."""
    directory.mkdir()
    os.sync()  # what was written before is not this loop's to wait for
    line, snapshot = b"x" * 1500 + b"\n", b"x" * 960
    journal = os.open(directory / "trials.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    started = time.perf_counter()
    for i in range(n):
        trial = directory / f"{i:04d}"
        trial.mkdir()
        for name in ("params.json", "stdout.log", "stderr.log", "metrics.json", "result.json"):
            (trial / name).write_bytes(b"{}")
        os.write(journal, line)
        os.fsync(journal)
        (directory / ".checkpoint.json.tmp").write_bytes(snapshot)
        os.replace(directory / ".checkpoint.json.tmp", directory / "checkpoint.json")
    elapsed = time.perf_counter() - started
    os.close(journal)
    return elapsed / n


def finished_times(study: Path) -> list[float]:
    """When each trial ended, in order, from the journal's millisecond timestamps."""
    return [datetime.fromisoformat(e["time"]).timestamp() for e in read_journal(study / "trials.jsonl").events
            if e["event"] == "finished"]


def run_chunk(task: Path, study: Path, until: int) -> list[float]:
    """Run (or resume) the study up to `until` trials; the seconds between consecutive trial ends in
    this run only (the gap across the process start is not a trial's cost)."""
    before = len(finished_times(study)) if study.exists() else 0
    os.sync()  # the same clean start as the file system's loop
    command = (["run", str(task), "--study-dir", str(study)] if before == 0 else ["resume", str(study)])
    subprocess.run([sys.executable, "-m", "autotune", *command, "--max-trials", str(until)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ends = finished_times(study)[before:]
    return [b - a for a, b in zip(ends, ends[1:])]


def early_and_late(directory: Path, trials: int, window: int, chunks: int = 3):
    """Mean seconds per trial over the first `window` trials of a study and over its last `window` of
    `trials`, measured in alternating chunks (early, late, early, ...) so that the machine's load,
    which drifts over minutes here, weighs on both alike; and the file system's part, measured
    between the chunks. Returns (early, late, floor, the late study)."""
    task = directory / "task.yaml"
    task.write_text(yaml.safe_dump(TRIVIAL, sort_keys=False))
    fresh, long = directory / "fresh", directory / "long"
    run_chunk(task, long, trials - window)  # the long study's first trials: not measured
    early, late, floors = [], [], []
    for k in range(1, chunks + 1):
        done = window * k // chunks  # the last chunk ends at `window` exactly
        early += run_chunk(task, fresh, done)
        floors.append(filesystem_floor(directory / f"floor-{k}", window // chunks))
        late += run_chunk(task, long, trials - window + done)
    return statistics.mean(early), statistics.mean(late), statistics.mean(floors), long


def big_study(directory: Path, trials: int) -> Path:
    """A study of `trials` trials made fast with the inline executor (a function call per trial)."""
    task = directory / "big.yaml"
    task.write_text(yaml.safe_dump({**TRIVIAL, "name": "big", "command": None,
                                    "executor": {"name": "inline", "function": "runner:trivial"}}, sort_keys=False)
                    .replace("command: null\n", ""))
    study = Study.create(task, directory / "big", max_trials=trials)
    try:
        run_study(study, executor=InlineExecutor(study.task, study.dir, function=trivial))
    finally:
        study.close()
    return directory / "big"


def trivial(params, context):
    return {"loss": params["x"], "other": params["y"]}


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def open_for_resume(study: Path) -> None:
    Study.open(study).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trials, window, big = (400, 100, 1000) if args.quick else (3000, 300, 10_000)
    sys.path.insert(0, str(Path(__file__).parent))
    print(f"## Runner cost per trial (random on two floats, a trivial command; {os.cpu_count()} cores)\n")
    print("Each trial makes a directory and five files and fsyncs the journal once: on a disk that is most of "
          "it, so the same study runs on a tmpfs too, which leaves the runner's own code.\n")
    print("The file system's own part is measured beside it: the same files written by a bare loop, between "
          "chunks of trials. Early and late trials run in alternating chunks (early, late, early...), so that "
          "the machine's load, which drifts over minutes, weighs on both alike.\n")
    print("| study on | trials | ms per trial | beyond the process spawn (ms) | file system alone (ms) | "
          "autotune's own (ms) | late / early |\n|---|---|---|---|---|---|---|")
    spawn = spawn_cost(300)
    for where in (tempfile.gettempdir(), "/dev/shm"):
        if not os.path.isdir(where):
            continue
        with tempfile.TemporaryDirectory(dir=where) as tmp:
            early, late, floor, study = early_and_late(Path(tmp), trials, window)
            size = (study / "checkpoint.json").stat().st_size
            journal = (study / "trials.jsonl").stat().st_size / trials
        for span, value in ((f"1-{window}", early), (f"{trials - window}-{trials}", late)):
            print(f"| {where} | {span} | {value * 1e3:.2f} | {(value - spawn) * 1e3:.2f} | {floor * 1e3:.2f} | "
                  f"{(value - spawn - floor) * 1e3:.2f} | {late / early:.2f} |")
    print(f"\nspawning the command alone: {spawn * 1e3:.2f} ms (targets: late / early <= 1.2, <= 3 ms beyond "
          f"the spawn); checkpoint: {size} bytes after {trials} trials (target <= 65536); journal: "
          f"{journal:.0f} bytes per trial\n")

    print(f"## Opening a {big:,}-trial study\n")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        study = big_study(Path(tmp), big)
        made = time.perf_counter() - started
        resume_s = timed(lambda: open_for_resume(study))
        report_s = timed(lambda: build_report(study))
        cli_started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autotune", "report", str(study), "--format", "json"], check=True,
                       stdout=subprocess.DEVNULL)
        cli_s = time.perf_counter() - cli_started
        size = (study / "checkpoint.json").stat().st_size
    print("| what | seconds |\n|---|---|")
    print(f"| open for resume (read the journal, rebuild trials, restore the strategy) | {resume_s:.2f} |")
    print(f"| build the report | {report_s:.2f} |")
    print(f"| `autotune report --format json` as a command | {cli_s:.2f} |")
    print(f"\ntarget <= 2 s each; checkpoint {size} bytes at {big:,} trials; "
          f"made in {made:.1f} s with the inline executor ({made / big * 1e3:.2f} ms per trial)")


if __name__ == "__main__":
    main()
