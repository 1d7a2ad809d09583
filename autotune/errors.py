"""The errors autotune reports to users: each one line, each mapped to an exit code by the CLI."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class AutotuneError(Exception):
    """A failure the user can act on; the CLI prints it as one line and exits 1."""

    exit_code = 1


class InputError(AutotuneError):
    """Invalid input: a task file, a study directory, a flag, or a study owned by another process."""

    exit_code = 2


class SpecError(InputError):
    """A problem at a field path inside a task (``parameters.lr.low``)."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class TaskError(InputError):
    """A problem in a task file, naming the file and, where there is one, the field path."""

    def __init__(self, file: str, message: str, path: str = ""):
        self.file = file
        self.path = path
        self.message = message
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {message}")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix for a near miss, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def join_path(path: str, key: str) -> str:
    """A field path one level down: `service` + `ready` is `service.ready`."""
    return f"{path}.{key}" if path else key
