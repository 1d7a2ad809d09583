"""Watch a Ray worker that runs trials; when it dies with a trial under way (Ray killed it: a forced stop,
its driver killed, its raylet gone), kill the trial processes it left and remove the attempt's directory.

Usage: python -I ray_watchdog.py, with its stdin the read end of a pipe that only the worker writes to:
"+DIR" when an attempt starts in DIR, "-DIR" when it ended as it should, one a line. End of file is the
worker's end: the attempts still open were cut short. The watchdog leaves the worker's children at once
(a second fork), because a Ray worker that exits kills its children, and this must outlive it.

It runs as a script, not a module of the package, so that it starts in a fraction of the time the
package takes to import; it loads the one module it needs, process.py, which imports only the standard
library, and only when there is something to clean.
"""
import importlib.util
import os
import shutil
import sys
from pathlib import Path


def main() -> None:
    if os.fork() > 0:
        os._exit(0)  # the worker reaps this first process; the second one is no child of the worker
    open_attempts: set[str] = set()
    for line in sys.stdin.buffer:
        path = line[1:].rstrip(b"\n").decode()
        if line.startswith(b"+"):
            open_attempts.add(path)
        else:
            open_attempts.discard(path)
    if not open_attempts:
        return
    spec = importlib.util.spec_from_file_location("autotune_process", Path(__file__).parent.parent / "process.py")
    process = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look it up there
    spec.loader.exec_module(process)
    for attempt in map(Path, open_attempts):
        process.kill_leftovers(attempt)
        shutil.rmtree(attempt, ignore_errors=True)
        try:
            attempt.parent.rmdir()  # the study's directory on this node, once no other attempt is in it
        except OSError:
            pass


if __name__ == "__main__":
    main()
