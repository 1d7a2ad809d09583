"""Reading a run's metrics: from the metrics file(s), else the last JSON-object line of stdout, else
`metrics.regex`; each record goes through its adapter to canonical names (autotune/adapters)."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from .adapters import MetricsError, convert, number, recognised

MAX_STDOUT_TAIL = 1 << 20


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
    """The run's metrics files: metrics.file's matches written since the run began, else the default file.
    A metrics.file the run did not write is an error: falling back to stdout would hide the mistake."""
    if pattern:
        matches = [p for p in sorted(trial_dir.glob(pattern)) if p.is_file() and p.stat().st_mtime >= since]
        if not matches:
            raise MetricsError(f"metrics.file {pattern!r} was not written by the run in {trial_dir}; see "
                               f"{trial_dir / 'stdout.log'} and {trial_dir / 'stderr.log'}")
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


def read_metrics(spec, trial_dir: Path, default_file: Path, stdout: str, since: float) -> tuple[list[dict], str]:
    """The batches of one run and where they were read from, from the first source that has any;
    MetricsError if none does."""
    files = metric_files(spec.file, trial_dir, default_file, since)
    if files:
        records = [last_record(path) for path in files]
        # a glob over a benchmark's output folder also catches its side files (genai-bench's
        # experiment_metadata.json); when some files are results, the others are left out
        results = [r for r in records if recognised(r, spec.format)] or records
        names = ", ".join(p.name for p in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        return [batch for record in results for batch in convert(record, spec.format)], f"metrics file {names}"
    record = last_json_line(stdout)
    if record is not None:
        return convert(record, spec.format), "the last JSON line of stdout"
    found = from_regex(stdout, spec.regex)
    if found:
        return [found], "metrics.regex on stdout"
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

