"""Progress reports of a running trial: JSON objects with an integer `step`, one per line of its stdout
or of the file $AUTOTUNE_PROGRESS_FILE ({"step": 3, "eval_loss": 0.41})."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .adapters import number


def parse_report(line: bytes | str) -> dict | None:
    """{"step": int, metric: float, ...} from a report line, or None for any other line."""
    line = line.strip()
    if not line.startswith(b"{" if isinstance(line, bytes) else "{"):
        return None
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    step = value.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return None
    metrics = {str(k): n for k, n in ((k, number(v)) for k, v in value.items() if k != "step") if n is not None}
    return {"step": step, "values": metrics}


class ProgressFile:
    """Reads the new complete lines of the progress file each time it is asked (the run's wait loop asks
    every few tens of milliseconds), handing their reports on."""

    def __init__(self, path: Path, report: Callable[[dict], None]):
        self.path = path
        self.report = report
        self.offset = 0
        self.rest = b""

    def read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        self.offset += len(data)
        *lines, self.rest = (self.rest + data).split(b"\n")
        for line in lines:
            found = parse_report(line)
            if found is not None:
                self.report(found)
