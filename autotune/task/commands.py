"""Whether the programs a task starts exist on this machine: a misspelt `pythn3` is found by `validate`
and `run`, not by every trial failing the same way."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import SpecError, did_you_mean
from ..templates import PLACEHOLDER
from .model import Task


def search_path() -> list[str]:
    """PATH as trials see it: `python` is the interpreter autotune runs in."""
    return [str(Path(sys.executable).parent), *os.environ.get("PATH", "").split(os.pathsep)]


def check_executables(task: Task) -> None:
    for path, argv in (("command", task.command), ("service.command", task.service and task.service.command)):
        if argv and not PLACEHOLDER.search(argv[0]):
            _check(argv[0], f"{path}[0]", task.workdir)


def _check(program: str, path: str, workdir: Path) -> None:
    if os.sep in program:
        found = Path(program) if Path(program).is_absolute() else workdir / program
        if not found.is_file():
            raise SpecError(path, f"{program!r} does not exist (relative paths are from the workdir, {workdir})")
        if not os.access(found, os.X_OK):
            raise SpecError(path, f"{program!r} is not executable; run it through its interpreter, "
                                  f"for example [python, {program}]")
        return
    directories = search_path()
    if any(os.access(os.path.join(d, program), os.X_OK) and os.path.isfile(os.path.join(d, program))
           for d in directories if d):
        return
    names = {name for d in directories if d and os.path.isdir(d) for name in _listing(d)}
    raise SpecError(path, f"{program!r} is not a program on PATH" + did_you_mean(program, names))


def _listing(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []
