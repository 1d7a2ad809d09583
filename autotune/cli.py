"""The command line: parses flags and calls the library; messages to stderr, results to stdout."""
from __future__ import annotations

import os
import signal
from functools import wraps
from pathlib import Path
from typing import Optional

import typer

from . import compare as comparison
from .errors import AutotuneError, InputError
from .progress import reporter_for
from .report import BEST_FORMATS, FORMATS, build_report, render_best, render_report
from .study import Study
from .task import load_task, parse_duration

app = typer.Typer(
    help="Find the best flags for a program by measuring it: run a study from a task file, resume it, "
         "report it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def setup() -> None:
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


@app.command()
@command
def run(
    task: Path = typer.Argument(..., help="The task file (YAML or JSON)."),
    study_dir: Optional[Path] = typer.Option(None, "--study-dir", help="Where to keep the study "
                                             "(default: studies/NAME-UTCTIMESTAMP)."),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", min=1, help="Trials in all (overrides the task)."),
    max_time: Optional[str] = typer.Option(None, "--max-time", help="Wall time in all, e.g. 90s, 15m, 2h."),
    parallel: Optional[int] = typer.Option(None, "--parallel", min=1, help="Trials at once (overrides the task)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the strategy (overrides the task)."),
) -> None:
    """Run a new study: create its directory, print its path, and run trials until the budget is spent."""
    study = Study.create(task, study_dir, max_trials=max_trials, max_time=duration_option(max_time),
                         parallel=parallel, seed=seed)
    typer.echo(str(study.dir))
    finish(study)


@app.command()
@command
def resume(
    study_dir: Path = typer.Argument(..., help="The study directory."),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", min=1, help="Trials in all, counting those done."),
    max_time: Optional[str] = typer.Option(None, "--max-time", help="Wall time in all, counting the time spent."),
    force: bool = typer.Option(False, "--force", help="Continue even though task.yaml changed since the start."),
) -> None:
    """Continue a study from its checkpoint, exactly where it stopped."""
    study = Study.open(study_dir, force=force)
    study.set_budget(max_trials, duration_option(max_time))
    finish(study)


def finish(study: Study) -> None:
    try:
        code = study.run(reporter_for())
    finally:
        study.close()
    raise typer.Exit(code)


@app.command()
@command
def report(
    study_dir: Path = typer.Argument(..., help="The study directory."),
    format: str = typer.Option("table", "--format", "-f", help=f"One of {', '.join(FORMATS)}."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Only the K best trials, best first."),
) -> None:
    """Show or export a study's results (it may still be running)."""
    write_output(render_report(build_report(study_dir, top), format), output)


@app.command()
@command
def best(
    study_dir: Path = typer.Argument(..., help="The study directory."),
    format: str = typer.Option("yaml", "--format", "-f", help=f"One of {', '.join(BEST_FORMATS)} "
                                                               "(args: ready-to-paste flags)."),
) -> None:
    """Print the best parameters found so far."""
    typer.echo(render_best(study_dir, format), nl=False)


@app.command()
@command
def compare(
    base_dir: Path = typer.Argument(..., help="The study to compare against, e.g. the last main-branch study."),
    new_dir: Path = typer.Argument(..., help="The new study."),
    tolerance: str = typer.Option("2%", "--tolerance", help="How much worse NEW may be, relative to BASE."),
    format: str = typer.Option("table", "--format", "-f", help=f"One of {', '.join(comparison.FORMATS)}."),
) -> None:
    """Compare the best of two studies with the same objective; exit 1 on a regression (a CI gate)."""
    result = comparison.compare_studies(base_dir, new_dir, comparison.parse_tolerance(tolerance))
    typer.echo(comparison.render_comparison(result, format), nl=False)
    if result["regression"]:
        raise fail(result["summary"], 1)


@app.command()
@command
def validate(task: Path = typer.Argument(..., help="The task file (YAML or JSON).")) -> None:
    """Check a task file without running it; print a one-line summary, or the first problem found."""
    typer.echo(load_task(task).summary())


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
