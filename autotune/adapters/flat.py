"""Any JSON object: its top-level numbers, names kept (what a script printing {"loss": 0.3} gives)."""
from __future__ import annotations

from collections.abc import Mapping

from .base import Adapter, numbers, register


@register
class Flat(Adapter):
    name = "flat"

    @staticmethod
    def detect(record: Mapping) -> bool:
        return True

    @staticmethod
    def convert(record: Mapping) -> list[dict]:
        return [numbers(record)]
