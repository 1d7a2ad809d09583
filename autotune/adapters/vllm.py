"""vLLM's `bench serve --save-result` JSON (and `--append-result`: the last record is the trial's)."""
from __future__ import annotations

import re
from collections.abc import Mapping

from .base import FAMILIES, Adapter, ms_stats, register, require_completed

KEY = re.compile(r"^(mean|median|std|p\d+(?:\.\d+)?)_(ttft|tpot|itl|e2el)_ms$")


@register
class VLLM(Adapter):
    name = "vllm"

    @staticmethod
    def detect(record: Mapping) -> bool:
        return "mean_e2el_ms" in record or ("mean_ttft_ms" in record and "total_token_throughput" in record)

    @staticmethod
    def convert(record: Mapping) -> list[dict]:
        record = {str(k).rstrip(":"): v for k, v in record.items()}  # older releases saved "request_goodput:"
        require_completed(record.get("completed"))
        return [ms_stats(record, KEY, FAMILIES, {"output_throughput": "mean_output_throughput",
                                                 "total_token_throughput": "mean_total_throughput"})]
