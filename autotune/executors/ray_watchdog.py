"""Watch a trial's Ray worker; if it dies before the trial's end (Ray killed it: a forced stop, its
driver killed, its raylet gone), kill the trial processes it left and remove the attempt's directory.

Usage: python -I ray_watchdog.py ATTEMPT_DIR, with its stdin the read end of a pipe that only the worker
writes to: the worker writes "done" when the trial ended as it should; end of file without it means
the worker died. It leaves the worker's children at once (a second fork), because a Ray worker that
exits kills its children, and this must outlive it. It runs as a script, not a module of the package,
so that it starts in a fraction of the time the package takes to import; it loads the one module it
needs, process.py, which imports only the standard library.
"""
import importlib.util
import os
import shutil
import sys
from pathlib import Path

DONE = b"done"  # ray_node.DONE: this script imports nothing of the package


def main(attempt: Path) -> None:
    if os.fork() > 0:
        os._exit(0)  # the worker reaps this first process; the second one is no child of the worker
    if sys.stdin.buffer.read() == DONE:
        return
    spec = importlib.util.spec_from_file_location("autotune_process", Path(__file__).parent.parent / "process.py")
    process = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look it up there
    spec.loader.exec_module(process)
    process.kill_leftovers(attempt)
    shutil.rmtree(attempt, ignore_errors=True)
    try:
        attempt.parent.rmdir()  # the study's directory on this node, once no other attempt is in it
    except OSError:
        pass


if __name__ == "__main__":
    main(Path(sys.argv[1]))
