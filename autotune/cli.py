"""The command line: parses flags, handles signals and exit codes, and calls the library; messages go to
stderr, results to stdout."""
from __future__ import annotations

import os
import shlex
import signal
import threading
from contextlib import contextmanager
from functools import wraps
from importlib.metadata import version
from pathlib import Path
from typing import Iterator, Optional

import typer
from typer.core import TyperArgument, TyperCommand

from . import compare as comparison
from .errors import AutotuneError, InputError
from .executors import EXECUTORS
from .loop import RunOutcome, run_study
from .progress import describe_values, format_params, reporter_for
from .records import StudyStatus
from .report import BEST_FORMATS, FORMATS, build_report, render_best, render_report
from .study import Study, newest_study
from .task import load_task, parse_duration

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130

class Command(TyperCommand):
    """Usage lines that read `autotune run [OPTIONS] TASK` and `autotune report [OPTIONS] [DIR]`."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or param.name.upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces


app = typer.Typer(
    help="Find the best flags for a program by measuring it: run a study from a task file, resume it, "
         "report it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"autotune {version('autotune')}")
        raise typer.Exit()


@app.callback()
def setup(
    _: bool = typer.Option(False, "--version", callback=show_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Process-wide settings for every command."""
    # Nothing autotune creates (or its trials create) is world-writable, whatever the caller's umask.
    os.umask(os.umask(0) | 0o002)
    # A file-size limit (RLIMIT_FSIZE) then fails a write with EFBIG, reported as one line, instead of
    # killing autotune mid-checkpoint; trial processes get the default back (Popen restores it).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def fail(message: str, code: int) -> "typer.Exit":
    typer.echo(f"autotune: {message}", err=True)
    return typer.Exit(code)


def command(fn):
    """Turn AutotuneErrors into one line on stderr and their exit code, never a traceback."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AutotuneError as e:
            raise fail(str(e), e.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:  # noqa: BLE001 -- an unexpected bug still gets one line, not a traceback
            if os.environ.get("AUTOTUNE_DEBUG"):
                raise
            raise fail(f"internal error: {type(e).__name__}: {e} (set AUTOTUNE_DEBUG=1 for a traceback)", 1) from None
    return wrapper


def duration_option(value: Optional[str]) -> Optional[float]:
    return None if value is None else parse_duration(value, "--max-time")


def placement_options(executor: Optional[str], ray_address: Optional[str], gpus: Optional[str]) -> dict:
    """The run's --executor, --ray-address and --gpus, as the study keeps them."""
    chosen: dict = {}
    if executor is not None:
        if executor not in EXECUTORS:
            raise InputError(f"--executor: unknown executor {executor!r}; use one of {', '.join(sorted(EXECUTORS))}")
        chosen["executor"] = executor
    if ray_address is not None:
        chosen.setdefault("executor", "ray")
        chosen["executor_options"] = {"address": ray_address}
    if gpus is not None:
        devices = [d.strip() for d in gpus.split(",") if d.strip()]
        if not devices or len(set(devices)) != len(devices):
            raise InputError(f"--gpus: give distinct device ids separated by commas (0,1,2,3), got {gpus!r}")
        chosen["devices"] = devices
    return chosen


DIR_HELP = "The study directory (default: the newest under ./studies)."
EXECUTOR_HELP = "Where trials run: local (default) or ray (overrides the task's executor)."
RAY_HELP = "Address of the Ray cluster (implies --executor ray); default: the task's, or auto."
GPUS_HELP = "The GPUs trials may use, e.g. 0,1,2,3 (overrides resources.devices)."


@app.command(cls=Command)
@command
def run(
    task: Path = typer.Argument(..., help="The task file (YAML or JSON).", metavar="TASK"),
    study_dir: Optional[Path] = typer.Option(None, "--study-dir", help="Where to keep the study "
                                             "(default: studies/NAME-UTCTIMESTAMP).", metavar="DIR"),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", min=1, help="Trials in all (overrides the task).",
                                             metavar="N"),
    max_time: Optional[str] = typer.Option(None, "--max-time", help="Wall time in all, e.g. 90s, 15m, 2h.",
                                           metavar="T"),
    parallel: Optional[int] = typer.Option(None, "--parallel", min=1, help="Trials at once (overrides the task).",
                                           metavar="N"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the strategy (overrides the task).", metavar="S"),
    executor: Optional[str] = typer.Option(None, "--executor", help=EXECUTOR_HELP, metavar="NAME"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_HELP, metavar="ADDR"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help=GPUS_HELP, metavar="LIST"),
) -> None:
    """Run a new study: create its directory, print its path, and run trials until the budget is spent."""
    placement = placement_options(executor, ray_address, gpus)
    study = Study.create(task, study_dir, max_trials=max_trials, max_time=duration_option(max_time),
                         parallel=parallel, seed=seed, placement=placement)
    typer.echo(str(study.dir))
    finish(study)


@app.command(cls=Command)
@command
def resume(
    study_dir: Optional[Path] = typer.Argument(None, help=DIR_HELP, metavar="DIR"),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", min=1, help="Trials in all, counting those done.",
                                             metavar="N"),
    max_time: Optional[str] = typer.Option(None, "--max-time", help="Wall time in all, counting the time spent.",
                                           metavar="T"),
    force: bool = typer.Option(False, "--force", help="Continue even though task.yaml changed since the start."),
    executor: Optional[str] = typer.Option(None, "--executor", help=EXECUTOR_HELP, metavar="NAME"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_HELP, metavar="ADDR"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help=GPUS_HELP, metavar="LIST"),
) -> None:
    """Continue a study from its checkpoint, exactly where it stopped."""
    placement = placement_options(executor, ray_address, gpus)
    study = Study.open(study_or_newest(study_dir), force=force)
    study.set_budget(max_trials, duration_option(max_time))
    study.state["placement"].update(placement)
    finish(study, resumed=True)


def study_or_newest(study_dir: Optional[Path]) -> Path:
    if study_dir is not None:
        return study_dir
    newest = newest_study()
    typer.echo(f"autotune: study {newest}", err=True)
    return newest


def finish(study: Study, resumed: bool = False) -> None:
    was_completed = resumed and study.status == StudyStatus.COMPLETED
    reporter = reporter_for()
    try:
        with stop_on_signals() as stop:
            outcome = run_study(study, stop=stop, listener=reporter)
    finally:
        study.close()
    if outcome.launched == 0 and was_completed:
        reporter.message("nothing left to run: the budget is spent or every configuration was tried "
                         "(raise --max-trials or --max-time to continue)")
    else:
        for line in closing_lines(outcome, study):
            reporter.message(line)
    raise typer.Exit(exit_code(outcome, study))


def closing_lines(outcome: RunOutcome, study: Study) -> list[str]:
    """What the run found and the commands to go on with."""
    where = shlex.quote(str(study.dir))
    best, front = study.answer(), study.front()
    lines = [f"stopped: {outcome.reason}"] if outcome.reason else []
    if best is not None:
        how = ", re-measured" if best["remeasured"] else ""
        lines.append(f"best: trial {best['trial_id']}, {describe_values(study.task, best['value'])}{how} "
                     f"({format_params(best['params'])})")
    elif front:
        how = ", re-measured" if front[0]["remeasured"] else ""
        lines.append(f"Pareto front: {len(front)} trials{how}")
        lines += [f"  trial {m['trial_id']}: {describe_values(study.task, m['value'])} ({format_params(m['params'])})"
                  for m in front]
    elif outcome.status != StudyStatus.INTERRUPTED:
        lines.append("no feasible trial: every trial failed or missed a hard SLO; `autotune report "
                     f"{where}` shows why")
    if outcome.status == StudyStatus.INTERRUPTED:
        lines.append(f"interrupted; continue with `autotune resume {where}`")
    if best is not None:
        lines.append(f"next: `autotune report {where}`, `autotune best {where} --format args`")
    elif front:
        pick = study.task.objective.metric
        lines.append(f"next: `autotune report {where}`, `autotune best {where} --pick {pick} --format args`")
    return lines


def exit_code(outcome: RunOutcome, study: Study) -> int:
    if outcome.status == StudyStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_OK if outcome.status == StudyStatus.COMPLETED and study.found() else EXIT_FAILED


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the event the study loop watches: running trials are stopped, the checkpoint is
    written, and the run exits 130."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command(cls=Command)
@command
def report(
    study_dir: Optional[Path] = typer.Argument(None, help=DIR_HELP, metavar="DIR"),
    format: str = typer.Option("table", "--format", "-f", help=f"One of {', '.join(FORMATS)}.", metavar="FORMAT"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout.",
                                          metavar="FILE"),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Only the K best trials, best first.", metavar="K"),
) -> None:
    """Show or export a study's results (it may still be running)."""
    write_output(render_report(build_report(study_or_newest(study_dir), top), format), output)


@app.command(cls=Command)
@command
def best(
    study_dir: Optional[Path] = typer.Argument(None, help=DIR_HELP, metavar="DIR"),
    format: str = typer.Option("yaml", "--format", "-f", help=f"One of {', '.join(BEST_FORMATS)} "
                                                               "(args: ready-to-paste flags).", metavar="FORMAT"),
    pick: Optional[str] = typer.Option(None, "--pick", help="With several objectives: the member of the Pareto "
                                       "front best on this objective's metric (default: the whole front).",
                                       metavar="METRIC"),
) -> None:
    """Print the best parameters found so far (with several objectives, the Pareto front)."""
    typer.echo(render_best(study_or_newest(study_dir), format, pick), nl=False)


@app.command(cls=Command)
@command
def compare(
    base_dir: Path = typer.Argument(..., help="The study to compare against, e.g. the last main-branch study.",
                                    metavar="BASE_DIR"),
    new_dir: Path = typer.Argument(..., help="The new study.", metavar="NEW_DIR"),
    tolerance: str = typer.Option("2%", "--tolerance", help="How much worse NEW may be, relative to BASE.",
                                  metavar="PCT"),
    format: str = typer.Option("table", "--format", "-f", help=f"One of {', '.join(comparison.FORMATS)}.",
                               metavar="FORMAT"),
) -> None:
    """Compare the best of two studies with the same objective; exit 1 on a regression (a CI gate)."""
    result = comparison.compare_studies(base_dir, new_dir, comparison.parse_tolerance(tolerance))
    typer.echo(comparison.render_comparison(result, format), nl=False)
    if result["regression"]:
        raise fail(result["summary"], 1)


@app.command(cls=Command)
@command
def validate(
    task: Path = typer.Argument(..., help="The task file (YAML or JSON).", metavar="TASK"),
    skip_programs: bool = typer.Option(False, "--skip-programs", help="Check the file only, not that the programs "
                                       "it starts exist on this machine (a task for another machine)."),
) -> None:
    """Check a task file without running it; print a one-line summary, or the first problem found."""
    typer.echo(load_task(task, check_programs=not skip_programs).summary())


def write_output(text: str, output: Optional[Path]) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as e:
        raise InputError(f"{output}: cannot write the report: {e.strerror or e}") from None


def main() -> None:
    """`python -m autotune`."""
    app(prog_name="autotune")
