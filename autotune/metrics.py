"""Metrics adapters: read what a trial produced and map it to canonical metric names.

Sources, in order: the metrics file(s), else the last JSON-object line of stdout, else `metrics.regex`.
Each adapter turns one benchmark record into a list of batches (metric dicts); `auto` picks the first
adapter that recognises the record.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_STDOUT_TAIL = 1 << 20


class MetricsError(Exception):
    """The trial's metrics could not be read; the message is the trial's failure reason."""


@dataclass(frozen=True)
class Adapter:
    name: str
    detect: Callable[[Mapping], bool]
    convert: Callable[[Mapping], list]


ADAPTERS: dict[str, Adapter] = {}


def adapter(name: str, detect: Callable[[Mapping], bool]):
    def register(convert: Callable[[Mapping], list]) -> Callable[[Mapping], list]:
        ADAPTERS[name] = Adapter(name, detect, convert)
        return convert
    return register


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


def _ms_stats(record: Mapping, pattern: re.Pattern, families: Mapping[str, str], renames: Mapping[str, str]) -> dict:
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


VLLM_KEY = re.compile(r"^(mean|median|std|p\d+(?:\.\d+)?)_(ttft|tpot|itl|e2el)_ms$")
SGLANG_KEY = re.compile(r"^(mean|median|std|p\d+(?:\.\d+)?)_(ttft|tpot|itl|e2e_latency)_ms$")
FAMILIES = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2el": "e2e_latency", "e2e_latency": "e2e_latency"}


@adapter("vllm", detect=lambda r: "mean_e2el_ms" in r or ("mean_ttft_ms" in r and "total_token_throughput" in r))
def vllm(record: Mapping) -> list:
    record = {str(k).rstrip(":"): v for k, v in record.items()}  # older releases saved "request_goodput:"
    require_completed(record.get("completed"))
    return [_ms_stats(record, VLLM_KEY, FAMILIES, {"output_throughput": "mean_output_throughput",
                                                   "total_token_throughput": "mean_total_throughput"})]


@adapter("sglang", detect=lambda r: "mean_e2e_latency_ms" in r or ("mean_ttft_ms" in r and "total_throughput" in r))
def sglang(record: Mapping) -> list:
    require_completed(record.get("completed"))
    out = _ms_stats(record, SGLANG_KEY, FAMILIES, {"output_throughput": "mean_output_throughput",
                                                   "total_throughput": "mean_total_throughput"})
    if "mean_total_throughput" not in out and {"input_throughput", "output_throughput"} <= out.keys():
        # releases before total_throughput was saved print it as input + output; derive it the same way
        out["mean_total_throughput"] = out["input_throughput"] + out["output_throughput"]
    return [out]


STATS = ("mean", "p50", "p90", "p99")


def _stats(out: dict, family: str, summary: Mapping, scale: float) -> None:
    """`<stat>_<family>` entries from a summary holding the STATS, scaled to seconds."""
    for stat in STATS:
        value = number(summary.get(stat))
        if value is not None:
            out[f"{stat}_{family}"] = value * scale


GENAI_RATES = {"mean_output_throughput_tokens_per_s": "mean_output_throughput",
               "mean_total_tokens_throughput_tokens_per_s": "mean_total_throughput",
               "requests_per_second": "request_throughput"}


@adapter("genai-bench", detect=lambda r: isinstance(r.get("aggregated_metrics"), Mapping))
def genai_bench(record: Mapping) -> list:
    """One file per concurrency level, each a batch; stats are in seconds unless `_time_unit` says ms."""
    aggregated = record["aggregated_metrics"]
    require_completed(aggregated.get("num_completed_requests"), f"concurrency {aggregated.get('num_concurrency')}")
    unit = aggregated.get("_time_unit", record.get("_time_unit", "s"))
    scale = 0.001 if unit == "ms" else 1.0
    out = numbers(aggregated)
    for name, canonical in GENAI_RATES.items():
        if name in out:
            out[canonical] = out[name]
    stats = aggregated.get("stats") or {}
    for family in ("ttft", "tpot", "e2e_latency"):
        if isinstance(stats.get(family), Mapping):
            _stats(out, family, stats[family], scale)
    return [out]


# guidellm metric -> (canonical family, scale to seconds); rates map to one canonical name each.
GUIDELLM_TIMES = {"request_latency": ("e2e_latency", 1.0), "time_to_first_token_ms": ("ttft", 0.001),
                  "time_per_output_token_ms": ("tpot", 0.001), "inter_token_latency_ms": ("itl", 0.001)}
GUIDELLM_RATES = {"output_tokens_per_second": "mean_output_throughput",
                  "tokens_per_second": "mean_total_throughput", "requests_per_second": "request_throughput"}


@adapter("guidellm", detect=lambda r: isinstance(r.get("benchmarks"), list))
def guidellm(record: Mapping) -> list:
    """benchmarks.json: each benchmark (a rate or concurrency) is a batch, from its successful requests."""
    batches = []
    for i, benchmark in enumerate(record["benchmarks"], 1):
        metrics = benchmark.get("metrics") or {}
        totals = metrics.get("request_totals") or benchmark.get("request_totals") or {}  # 0.3 kept it outside
        require_completed(totals.get("successful"), f"benchmark {i} of {len(record['benchmarks'])}")
        out: dict = {}
        for name, (family, scale) in GUIDELLM_TIMES.items():
            summary = _successful(metrics.get(name))
            if summary:  # its percentiles sit one level down
                _stats(out, family, {**summary, **(summary.get("percentiles") or {})}, scale)
        for name, canonical in GUIDELLM_RATES.items():
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


@adapter("flat", detect=lambda r: True)
def flat(record: Mapping) -> list:
    return [numbers(record)]


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


def parse_records(text: str) -> list[dict]:
    """JSON objects from a file holding one object, a list of them, JSON Lines, or objects appended."""
    decoder = json.JSONDecoder()
    records, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return records
        value, i = decoder.raw_decode(text, i)
        items = value if isinstance(value, list) else [value]
        records.extend(item for item in items if isinstance(item, dict))


def last_json_line(text: str) -> dict | None:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def from_regex(text: str, patterns: Mapping[str, str]) -> dict:
    out = {}
    for name, pattern in patterns.items():
        matches = re.findall(pattern, text, flags=re.MULTILINE)
        if matches:
            last = matches[-1]
            value = number(last[0] if isinstance(last, tuple) else last)
            if value is not None:
                out[name] = value
    return out


def metric_files(pattern: str | None, trial_dir: Path, default: Path, since: float) -> list[Path]:
    """The run's metrics files: metrics.file's matches written since the run began, else the default file."""
    if pattern:
        matches = [p for p in sorted(trial_dir.glob(pattern)) if p.is_file() and p.stat().st_mtime >= since]
        if matches:
            return matches
    return [default] if default.is_file() else []


def last_record(path: Path) -> dict:
    try:
        records = parse_records(path.read_text(errors="replace"))
    except ValueError as e:
        raise MetricsError(f"metrics file {path.name} is not JSON: {e}") from None
    if not records:
        raise MetricsError(f"metrics file {path.name} holds no JSON object")
    return records[-1]


def read_metrics(spec, trial_dir: Path, default_file: Path, stdout: str, since: float) -> list[dict]:
    """The batches of one run, from the first source that has any; MetricsError if none does."""
    files = metric_files(spec.file, trial_dir, default_file, since)
    if files:
        records = [last_record(path) for path in files]
        # a glob over a benchmark's output folder also catches its side files (genai-bench's
        # experiment_metadata.json); when some files are results, the others are left out
        results = [r for r in records if recognised(r, spec.format)] or records
        return [batch for record in results for batch in convert(record, spec.format)]
    record = last_json_line(stdout)
    if record is not None:
        return convert(record, spec.format)
    found = from_regex(stdout, spec.regex)
    if found:
        return [found]
    sources = "no metrics file, no JSON object line on stdout" + (", no regex match" if spec.regex else "")
    raise MetricsError(f"no metrics: the run left {sources}")


def read_tail(path: Path, offset: int, limit: int = MAX_STDOUT_TAIL) -> str:
    """The text a run appended to a log after `offset`, at most its last `limit` bytes."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(offset, size - limit))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""

