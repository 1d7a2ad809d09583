"""Metrics adapters: one class per benchmark tool's output, in a registry; `auto` tries them in order."""
from __future__ import annotations

from collections.abc import Mapping

# Registration order is the order `auto` tries them in: the catch-all flat comes last.
from . import vllm, sglang, genai_bench, guidellm, flat  # noqa: F401,I001
from .base import ADAPTERS, Adapter, MetricsError, number, register

__all__ = ["ADAPTERS", "Adapter", "MetricsError", "convert", "number", "recognised", "register"]


def recognised(record: Mapping, fmt: str) -> bool:
    """Whether a record is a benchmark result for `fmt` (for `auto`, any adapter but the catch-all flat)."""
    if fmt != "auto":
        return ADAPTERS[fmt].detect(record)
    return any(a.detect(record) for a in ADAPTERS.values() if a.name != "flat")


def convert(record: Mapping, fmt: str) -> list:
    if fmt == "auto":
        fmt = next(a.name for a in ADAPTERS.values() if a.detect(record))
    try:
        return ADAPTERS[fmt].convert(record)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise MetricsError(f"metrics do not fit the {fmt} format ({type(e).__name__}: {e})") from None
