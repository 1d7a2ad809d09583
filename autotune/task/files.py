"""Reading a task file: YAML (1.2 scalars) or JSON, chosen by suffix, into its top-level mapping."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import TaskError


def read_task_file(path: Path) -> dict:
    """The file's top-level mapping; YAML or JSON (chosen by suffix, YAML being a superset)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TaskError(str(path), "no such file") from None
    except IsADirectoryError:
        raise TaskError(str(path), "is a directory, not a task file") from None
    except OSError as e:
        raise TaskError(str(path), f"cannot be read: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TaskError(str(path), "is not a text file (not UTF-8), so neither YAML nor JSON") from None
    if not text.strip():
        raise TaskError(str(path), "is empty; a task needs at least name, command, parameters and objective")
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=TaskLoader)
    except json.JSONDecodeError as e:
        raise TaskError(str(path), f"is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except yaml.YAMLError as e:
        raise TaskError(str(path), f"is not valid YAML: {_yaml_problem(e)}") from None
    except RecursionError:
        raise TaskError(str(path), "is nested too deeply to be a task") from None
    if not isinstance(raw, dict):
        raise TaskError(str(path), f"top level must be a mapping of task keys, got {type_name(raw)}")
    return raw


def _yaml_problem(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


class TaskLoader(yaml.SafeLoader):
    """YAML 1.2 scalars: only true/false are booleans (so `on`/`off` stay strings, as llama.cpp's
    --flash-attn wants) and 1e-4 is a float, not the string YAML 1.1 makes of it."""


TaskLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
TaskLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
TaskLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+
                |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))
