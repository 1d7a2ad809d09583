"""Placeholders in commands, environments and URLs: checked when the task loads, filled per trial.
A filled placeholder stays one argument whatever characters the value holds.

A nested list in a list command is an optional group: its arguments are kept together, or dropped
together when it names a parameter inactive in the trial (a conditional parameter's flag and value).
Anywhere else a parameter that can be inactive has no value to fill, so naming it there is an error.
"""
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


def placeholders(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1) is not None]


def check_placeholders(text: str, path: str, names: set, optional: Mapping[str, str] | None = None) -> None:
    """Every placeholder names a parameter or a built-in; none names one of `optional` (parameters that can
    be inactive, to the condition that makes them active), which only an optional group may name."""
    known = set(names) | set(BUILTIN_PLACEHOLDERS)
    for name in placeholders(text):
        if name == MAX_STEP and name not in known:
            raise SpecError(path, "placeholder {max_step} needs early_stopping.max_step (the full number of steps)")
        if name not in known:
            params = ", ".join(sorted(set(names) - {MAX_STEP}))
            raise SpecError(path, f"placeholder {{{name}}} names no parameter"
                                  + (did_you_mean(name, known) or f"; parameters: {params}"))
        if optional and name in optional:
            raise SpecError(path, f"{{{name}}} can be inactive (it exists only when {optional[name]}), so it has no "
                                  f"value to fill here; in a list command put it in an optional group, a nested list "
                                  f"such as [--flag, \"{{{name}}}\"], dropped whole when it is inactive")


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill {placeholders} from values ({{ and }} are literal braces); each result stays one argument."""
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        return render_scalar(values[name]) if name in values else match.group(0)
    return PLACEHOLDER.sub(fill, text)


def parse_command(spec: Any, path: str, names: set, optional: Mapping[str, str] | None = None) -> tuple:
    """The argument vector of a command given as a list or as one string (split with shlex); in a list, a
    nested list is an optional group, kept as a tuple."""
    if isinstance(spec, str):
        try:
            argv = shlex.split(spec)
        except ValueError as e:
            raise SpecError(path, f"cannot be split into arguments: {e}") from None
        if not argv:
            raise SpecError(path, "must not be empty")
        for part in argv:
            check_placeholders(part, path, names, optional)
        return tuple(argv)
    if isinstance(spec[0], list):
        raise SpecError(f"{path}[0]", "must be the program, not an optional group")
    argv = []
    for i, part in enumerate(spec):
        if isinstance(part, list):
            group = tuple(render_scalar(v) for v in part)
            for j, arg in enumerate(group):
                check_placeholders(arg, f"{path}[{i}][{j}]", names)
            argv.append(group)
        else:
            argv.append(render_scalar(part))
            check_placeholders(argv[-1], f"{path}[{i}]", names, optional)
    return tuple(argv)


def render_argv(command: tuple, values: Mapping[str, Any]) -> list[str]:
    """A command's arguments filled from values; an optional group naming a parameter missing from values
    (inactive in this trial) is left out whole."""
    argv: list[str] = []
    for part in command:
        if isinstance(part, tuple):
            if all(name in values for arg in part for name in placeholders(arg)):
                argv += [render(arg, values) for arg in part]
        else:
            argv.append(render(part, values))
    return argv


def parse_env(spec: Mapping, path: str, names: set, optional: Mapping[str, str] | None = None) -> Mapping:
    env = {}
    for key, value in spec.items():
        env[str(key)] = render_scalar(value)
        check_placeholders(env[str(key)], join_path(path, str(key)), names, optional)
    return env
