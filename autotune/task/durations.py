"""Durations in task files and flags: a number of seconds, or 90s / 15m / 2h."""
from __future__ import annotations

import math
import re
from typing import Any

from ..errors import SpecError

DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smh]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(value: Any, path: str) -> float:
    """Seconds from a number or a string like 90s, 15m, 2h."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = DURATION.match(value) if isinstance(value, str) else None
        if not match:
            raise SpecError(path, f"must be a duration: seconds, or a number followed by s, m or h "
                                  f"(90s, 15m, 2h), got {value!r}")
        seconds = float(match.group(1)) * UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds <= 0:
        raise SpecError(path, f"must be a positive duration, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
