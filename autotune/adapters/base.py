"""The adapter contract: recognise one benchmark tool's output record and map it to canonical metrics
(seconds, per second). A record becomes a list of batches (one per concurrency level or rate)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

ADAPTERS: dict[str, type["Adapter"]] = {}


class MetricsError(Exception):
    """The trial's metrics could not be read; the message is the trial's failure reason."""


def register(cls: type["Adapter"]) -> type["Adapter"]:
    """Make an adapter available to `metrics.format` and to `auto`, which tries them in registration order."""
    ADAPTERS[cls.name] = cls
    return cls


class Adapter:
    name: ClassVar[str]

    @staticmethod
    def detect(record: Mapping) -> bool:
        """Whether the record looks like this tool's output (for `format: auto`)."""
        raise NotImplementedError

    @staticmethod
    def convert(record: Mapping) -> list[dict]:
        """The record's batches of canonical metrics; MetricsError (or a KeyError/TypeError from a record
        of the wrong shape) when it holds no usable result."""
        raise NotImplementedError


def number(value: Any) -> float | None:
    """A metric value as a float (inf and nan included), or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def numbers(record: Mapping) -> dict:
    """The top-level numeric entries of a record, names kept."""
    return {k: v for k, v in ((str(k), number(v)) for k, v in record.items()) if v is not None}


def require_completed(count: Any, what: str = "the benchmark") -> None:
    """A run with no completed request reports zeros (vLLM, SGLang, guidellm): that is a failure, not a result."""
    if number(count) == 0:
        raise MetricsError(f"{what} completed no requests")


def ms_stats(record: Mapping, pattern: re.Pattern, families: Mapping[str, str], renames: Mapping[str, str]) -> dict:
    """Map `<stat>_<family>_ms` keys to `<stat>_<canonical>` in seconds and rename throughputs."""
    out = numbers(record)
    for key, value in numbers(record).items():
        match = pattern.match(key)
        if match:
            stat = "p50" if match.group(1) == "median" else match.group(1)
            out[f"{stat}_{families[match.group(2)]}"] = value / 1000.0
        elif key in renames:
            out[renames[key]] = value
    return out


STATS = ("mean", "p50", "p90", "p99")
FAMILIES = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2el": "e2e_latency", "e2e_latency": "e2e_latency"}


def stats(out: dict, family: str, summary: Mapping, scale: float) -> None:
    """`<stat>_<family>` entries from a summary holding the STATS, scaled to seconds."""
    for stat in STATS:
        value = number(summary.get(stat))
        if value is not None:
            out[f"{stat}_{family}"] = value * scale
