"""Progress reports of a running trial: JSON objects with an integer `step`, one per line of its stdout
or of the file $AUTOTUNE_PROGRESS_FILE ({"step": 3, "eval_loss": 0.41})."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from .adapters import number

POLL_S = 0.1


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
    """Follows the progress file while a run goes on, handing each complete new line's report on."""

    def __init__(self, path: Path, report: Callable[[dict], None]):
        self.path = path
        self.report = report
        self.offset = 0
        self.rest = b""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        while not self.done.wait(POLL_S):
            self._read()
        self._read()

    def _read(self) -> None:
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

    def close(self) -> None:
        self.done.set()
        self.thread.join()
