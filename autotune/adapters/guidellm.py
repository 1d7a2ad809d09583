"""guidellm's benchmarks.json (0.3 to 0.8): each benchmark (a rate or concurrency) is a batch, read from
its successful requests."""
from __future__ import annotations

from collections.abc import Mapping

from .base import Adapter, number, register, require_completed, stats

# guidellm metric -> (canonical family, scale to seconds); rates map to one canonical name each.
TIMES = {"request_latency": ("e2e_latency", 1.0), "time_to_first_token_ms": ("ttft", 0.001),
         "time_per_output_token_ms": ("tpot", 0.001), "inter_token_latency_ms": ("itl", 0.001)}
RATES = {"output_tokens_per_second": "mean_output_throughput",
         "tokens_per_second": "mean_total_throughput", "requests_per_second": "request_throughput"}


@register
class GuideLLM(Adapter):
    name = "guidellm"

    @staticmethod
    def detect(record: Mapping) -> bool:
        return isinstance(record.get("benchmarks"), list)

    @staticmethod
    def convert(record: Mapping) -> list[dict]:
        batches = []
        for i, benchmark in enumerate(record["benchmarks"], 1):
            metrics = benchmark.get("metrics") or {}
            totals = metrics.get("request_totals") or benchmark.get("request_totals") or {}  # 0.3 kept it outside
            require_completed(totals.get("successful"), f"benchmark {i} of {len(record['benchmarks'])}")
            out: dict = {}
            for name, (family, scale) in TIMES.items():
                summary = _successful(metrics.get(name))
                if summary:  # its percentiles sit one level down
                    stats(out, family, {**summary, **(summary.get("percentiles") or {})}, scale)
            for name, canonical in RATES.items():
                value = number(_successful(metrics.get(name)).get("mean"))
                if value is not None:
                    out[canonical] = value
            batches.append(out)
        return batches


def _successful(summary) -> Mapping:
    if not isinstance(summary, Mapping):
        return {}
    inner = summary.get("successful", summary)
    return inner if isinstance(inner, Mapping) else {}
