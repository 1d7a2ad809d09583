"""genai-bench's experiment folder: one file per concurrency level, each a batch."""
from __future__ import annotations

from collections.abc import Mapping

from .base import Adapter, numbers, register, require_completed, stats

RATES = {"mean_output_throughput_tokens_per_s": "mean_output_throughput",
         "mean_total_tokens_throughput_tokens_per_s": "mean_total_throughput",
         "requests_per_second": "request_throughput"}


@register
class GenAIBench(Adapter):
    name = "genai-bench"

    @staticmethod
    def detect(record: Mapping) -> bool:
        return isinstance(record.get("aggregated_metrics"), Mapping)

    @staticmethod
    def convert(record: Mapping) -> list[dict]:
        """Stats are in seconds unless `_time_unit` says ms."""
        aggregated = record["aggregated_metrics"]
        require_completed(aggregated.get("num_completed_requests"), f"concurrency {aggregated.get('num_concurrency')}")
        unit = aggregated.get("_time_unit", record.get("_time_unit", "s"))
        scale = 0.001 if unit == "ms" else 1.0
        out = numbers(aggregated)
        for name, canonical in RATES.items():
            if name in out:
                out[canonical] = out[name]
        summaries = aggregated.get("stats") or {}
        for family in ("ttft", "tpot", "e2e_latency"):
            if isinstance(summaries.get(family), Mapping):
                stats(out, family, summaries[family], scale)
        return [out]
