"""What runs on a Ray node: one whole trial as one Ray task, in a directory of the node's own, and the
clean-up of what a killed runner left on a node.

The trial runs exactly as with the local executor (`run_trial`), with the GPUs Ray assigned to the task;
its files come back in the task's return value, because the node may share no filesystem with autotune.
A watchdog process (one a worker) outlives the worker: if the worker dies with a trial under way (Ray
killed it: a forced stop, autotune killed, the raylet gone) it kills the trial's processes, which run
in sessions of their own and would otherwise be left running.
"""
from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..process import kill_leftovers
from ..trial import TrialSpec, run_trial, unmeasured

if TYPE_CHECKING:
    from ..task import Task

TRANSFER_CAP = 256 << 20  # bytes of a trial's files sent back; its logs are capped at 33 MiB each anyway
STOP_POLL_S = 1.0
WATCHDOG = Path(__file__).with_name("ray_watchdog.py")
_watchdog_pipe: int | None = None  # this worker's pipe to its watchdog


def node_root(study_key: str) -> Path:
    """The directory on this node that holds a study's trials while they run."""
    return Path(tempfile.gettempdir()).resolve() / "autotune-ray" / study_key


def run_on_node(task: "Task", spec: TrialSpec, key: str, hub: Any, study_key: str, placed: bool) -> dict:
    """The Ray task: run the trial here, then return its result, its files and where it ran."""
    import ray

    context = ray.get_runtime_context()
    attempt = node_root(study_key) / key.rsplit("/", 1)[-1]
    directory = attempt / f"{spec.trial_id:04d}"
    devices = tuple(str(d) for d in context.get_accelerator_ids().get("GPU", ())) if placed else None
    node = {"node_id": context.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
            "hostname": socket.gethostname(), "directory": str(directory), "gpus": devices and list(devices)}
    stop, ended = threading.Event(), threading.Event()
    if ray.get(hub.start.remote(key, node["node_id"])):  # the hub knows the node before the trial runs there
        stop.set()
    attempt.mkdir(parents=True, exist_ok=True)
    _watchdog(f"+{attempt}")
    watcher = threading.Thread(target=_watch_stop, args=(hub, key, stop, ended), daemon=True)
    watcher.start()
    sender = _Sender(hub, key)
    try:
        if not task.workdir.is_dir():
            result = unmeasured("failed", error=f"workdir {task.workdir} does not exist on node {node['node_ip']}: "
                                                  "install the workload on every node")
        else:
            result = run_trial(task, replace(spec, devices=devices, directory=directory), attempt.parent, directory,
                               stop, sender.put)
        files, node["not_copied"] = _collect(directory)
    finally:
        sender.close()
        ended.set()
        ray.get(hub.finished.remote(key))  # after the last report: they reach autotune before this result
        watcher.join()
        _watchdog(f"-{attempt}")  # the trial ended here as it should: nothing for the watchdog to do
        remove_attempt(attempt)
    return {"result": result, "files": files, "node": node, "reports": sender.sent}


def _watchdog(line: str) -> None:
    """Tell this worker's watchdog that an attempt starts ("+DIR") or ended as it should ("-DIR"); the
    watchdog starts with the worker's first trial, and returns no longer a child of the worker."""
    global _watchdog_pipe
    for _ in range(2):  # a second time with a new watchdog, should the first one be gone
        if _watchdog_pipe is None:
            read, _watchdog_pipe = os.pipe()
            try:
                subprocess.run([sys.executable, "-I", str(WATCHDOG)], stdin=read, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True, check=True)
            finally:
                os.close(read)
        try:
            os.write(_watchdog_pipe, f"{line}\n".encode())
            return
        except OSError:
            os.close(_watchdog_pipe)
            _watchdog_pipe = None


def _watch_stop(hub: Any, key: str, stop: threading.Event, ended: threading.Event) -> None:
    """Set `stop` when autotune asks the trial to stop, until the trial ends."""
    import ray

    while not (stop.is_set() or ended.is_set()):
        if ray.get(hub.wait_stop.remote(key, STOP_POLL_S)):
            stop.set()


class _Sender:
    """Sends the trial's progress reports to the hub in order: one call at a time, each carrying every
    report that came while the previous one was under way."""

    def __init__(self, hub: Any, key: str):
        self.hub, self.key = hub, key
        self.sent = 0
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def put(self, report: dict) -> None:
        self.queue.put(report)

    def close(self) -> None:
        """Return once every report put before is with the hub."""
        self.queue.put(None)
        self.thread.join()

    def _send(self) -> None:
        import ray

        closed = False
        while not closed:
            batch = [self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get())
            closed = None in batch
            batch = [r for r in batch if r is not None]
            if batch:
                ray.get(self.hub.report.remote(self.key, batch))
                self.sent += len(batch)


def _collect(directory: Path) -> tuple[dict[str, bytes], list[str]]:
    """The trial's files by relative path, smallest first up to TRANSFER_CAP; the names left out."""
    found = sorted((p.stat().st_size, str(p.relative_to(directory)), p)
                   for p in directory.rglob("*") if p.is_file() and not p.is_symlink())
    files, skipped, total = {}, [], 0
    for size, name, path in found:
        if total + size > TRANSFER_CAP:
            skipped.append(name)
            continue
        try:
            files[name] = path.read_bytes()
        except OSError:
            skipped.append(name)
            continue
        total += size
    return files, skipped


def remove_attempt(attempt: Path) -> None:
    """Remove an attempt's directory, and the study's on this node once no other attempt is in it."""
    shutil.rmtree(attempt, ignore_errors=True)
    try:
        attempt.parent.rmdir()
    except OSError:
        pass  # other trials of the study are running here


def clean_node(study_key: str) -> list[int]:
    """The Ray task run on every node by `recover()`: kill the study's leftover trial processes here and
    remove its directories."""
    root = node_root(study_key)
    killed = kill_leftovers(root)
    shutil.rmtree(root, ignore_errors=True)
    return killed
