"""Placeholders in commands, environments and URLs: checked when the task loads, filled per trial.
A filled placeholder stays one argument whatever characters the value holds."""
from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from .errors import SpecError, did_you_mean, join_path

BUILTIN_PLACEHOLDERS = ("trial.id", "trial.dir", "study.dir", "port", "gpus")
MAX_STEP = "max_step"  # early_stopping.max_step, known to the checks only when the task sets it
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


def render_scalar(value: Any) -> str:
    """How a value appears in an argument or environment variable: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_placeholders(text: str, path: str, names: set) -> None:
    known = set(names) | set(BUILTIN_PLACEHOLDERS)
    for match in PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name == MAX_STEP and name not in known:
            raise SpecError(path, "placeholder {max_step} needs early_stopping.max_step (the full number of steps)")
        if name is not None and name not in known:
            params = ", ".join(sorted(set(names) - {MAX_STEP}))
            raise SpecError(path, f"placeholder {{{name}}} names no parameter"
                                  + (did_you_mean(name, known) or f"; parameters: {params}"))


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill {placeholders} from values ({{ and }} are literal braces); each result stays one argument."""
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        return render_scalar(values[name]) if name in values else match.group(0)
    return PLACEHOLDER.sub(fill, text)


def parse_command(spec: Any, path: str, names: set) -> tuple:
    """The argument vector of a command given as a list or as one string (split with shlex)."""
    if isinstance(spec, str):
        try:
            argv = shlex.split(spec)
        except ValueError as e:
            raise SpecError(path, f"cannot be split into arguments: {e}") from None
        if not argv:
            raise SpecError(path, "must not be empty")
        for part in argv:
            check_placeholders(part, path, names)
        return tuple(argv)
    argv = tuple(render_scalar(v) for v in spec)
    for i, part in enumerate(argv):
        check_placeholders(part, f"{path}[{i}]", names)
    return argv


def parse_env(spec: Mapping, path: str, names: set) -> Mapping:
    env = {}
    for key, value in spec.items():
        env[str(key)] = render_scalar(value)
        check_placeholders(env[str(key)], join_path(path, str(key)), names)
    return env
