"""SGLang's `bench_serving` JSONL (appended records: the last is the trial's; bare Infinity allowed)."""
from __future__ import annotations

import re
from collections.abc import Mapping

from .base import FAMILIES, Adapter, ms_stats, register, require_completed

KEY = re.compile(r"^(mean|median|std|p\d+(?:\.\d+)?)_(ttft|tpot|itl|e2e_latency)_ms$")


@register
class SGLang(Adapter):
    name = "sglang"

    @staticmethod
    def detect(record: Mapping) -> bool:
        return "mean_e2e_latency_ms" in record or ("mean_ttft_ms" in record and "total_throughput" in record)

    @staticmethod
    def convert(record: Mapping) -> list[dict]:
        require_completed(record.get("completed"))
        out = ms_stats(record, KEY, FAMILIES, {"output_throughput": "mean_output_throughput",
                                               "total_throughput": "mean_total_throughput"})
        if "mean_total_throughput" not in out and {"input_throughput", "output_throughput"} <= out.keys():
            # releases before total_throughput was saved print it as input + output; derive it the same way
            out["mean_total_throughput"] = out["input_throughput"] + out["output_throughput"]
        return [out]
