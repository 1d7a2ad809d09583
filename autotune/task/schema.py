"""The task's JSON Schema check, with messages that name the field and say what is wrong."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import jsonschema

from ..errors import SpecError, did_you_mean, join_path
from ..space import is_scalar
from .files import type_name

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "task.schema.json"
SCHEMA_TYPES = {"string": "a string", "number": "a number", "integer": "an integer", "boolean": "a boolean",
                "object": "a mapping", "array": "a list", "null": "null"}


@lru_cache(maxsize=1)
def task_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text())


@lru_cache(maxsize=1)
def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(task_schema())


def check_schema(raw: Mapping) -> None:
    error = jsonschema.exceptions.best_match(schema_validator().iter_errors(raw))
    if error is not None:
        path, message = _schema_message(error)
        raise SpecError(path, message)


def _schema_message(error: jsonschema.ValidationError) -> tuple[str, str]:
    path = format_path(error.absolute_path)
    value, kind, expected = error.instance, error.validator, error.validator_value
    if kind == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        extra = next(k for k in value if k not in known)
        hint = did_you_mean(extra, known) or (f"; known keys: {', '.join(known)}" if known else "")
        return join_path(path, extra), f"unknown key {extra!r}{hint}"
    custom = _custom_message(error)
    if custom:
        return path, f"{custom}, got {value!r}" if is_scalar(value) else custom
    if kind == "required":
        missing = next(k for k in expected if k not in value)
        return path, f"missing required key {missing!r}"
    if kind == "enum":
        return path, (f"{value!r} is not one of {', '.join(map(str, expected))}"
                      + (did_you_mean(value, expected) if isinstance(value, str) else ""))
    if kind == "type":
        wanted = [SCHEMA_TYPES[t] for t in (expected if isinstance(expected, list) else [expected])]
        wanted = ", ".join(wanted[:-1]) + " or " + wanted[-1] if len(wanted) > 1 else wanted[0]
        return path, f"must be {wanted}, got {type_name(value)}"
    if kind in ("minItems", "minLength", "minProperties") and expected == 1:
        return path, "must not be empty"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[kind]
        return path, f"must be {op} {expected}, got {value!r}"
    if kind in ("anyOf", "oneOf"):
        # Explain the branch written in the instance's own type (a misspelt name, not "must be a mapping").
        fitting = [e for e in error.context if e.validator != "type" and e.relative_schema_path[0] != "type"]
        if fitting:
            return _schema_message(jsonschema.exceptions.best_match(fitting))
        return path, f"must be {error.schema.get('description', 'of another form').rstrip('.').lower()}"
    return path, error.message


def _custom_message(error: jsonschema.ValidationError) -> str | None:
    while error is not None:
        if "x-error" in error.schema:
            return error.schema["x-error"]
        error = error.parent
    return None


def format_path(parts: Iterable) -> str:
    out = ""
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else join_path(out, str(part))
    return out
