"""Trials as Ray tasks on the nodes of a Ray cluster (the `[ray]` extra).

Each trial is one Ray task holding the trial's CPUs and GPUs; Ray picks the node and the devices, and
the task runs the whole trial there (see ray_node). Its progress reports and a stop request travel
through a hub actor (ray_hub); its files come back with its result and land in the study's trial
directory here. A trial whose node is lost is run again elsewhere with the same params, up to
`max_retries` times. Ray is imported only once a study uses this executor: the core runs without it.
"""
from __future__ import annotations

import hashlib
import logging
import os
import queue
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AutotuneError, InputError
from ..storage import write_json
from ..trial import TrialSpec, outcome, unmeasured
from .base import Executor, TrialHandle, drain, register
from .ray_hub import Hub
from .ray_node import clean_node, run_on_node

WAIT_S = 0.5          # longest wait for news in the executor's thread
STOP_MARGIN_S = 10.0  # past the kill grace: a trial not stopped by then is killed along with its Ray worker
RECOVER_S = 60.0
ADDRESS, MAX_RETRIES = "auto", 2  # the defaults of the executor's options
LOST: dict = {"status": "lost"}  # an attempt's outcome when its node died: the trial runs again, or fails
RECORD = "ray.json"   # in the trial's directory: the node it ran on, its directory there, the nodes lost


@register
class RayExecutor(Executor):
    name = "ray"
    OPTIONS = ("address", "max_retries")
    assigns_devices = True
    extra = "ray"

    def __init__(self, task, study_dir: Path, address: str = ADDRESS, max_retries: int = MAX_RETRIES, **options: Any):
        super().__init__(task, study_dir, **options)
        self.address = address
        self.max_retries = max_retries
        # Names the study's directories on the nodes, which may be shared by several autotune machines.
        self.study_key = hashlib.sha1(f"{socket.gethostname()}:{Path(study_dir).resolve()}".encode()).hexdigest()[:16]
        self.cpus = task.resources.cpus if task.resources is not None else 1.0
        self._ray = None
        self._owns_session = False
        self._lock = threading.Lock()
        self._running: dict[Any, RayHandle] = {}   # by the Ray task's object ref
        self._by_key: dict[str, RayHandle] = {}    # by attempt key, for the hub's reports
        self._closing = False
        self._broken: str | None = None            # why the executor's thread ended before its time

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> str | None:
        address, retries = options.get("address", ADDRESS), options.get("max_retries", MAX_RETRIES)
        if not isinstance(address, str) or not address.strip():
            return f"the ray executor's address must be a cluster address or auto, got {address!r}"
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            return f"the ray executor's max_retries must be a whole number >= 0, got {retries!r}"
        return None

    # -- the cluster --------------------------------------------------------------------------------
    def _connect(self):
        """Ray, connected (an existing connection of a library caller is used as it is), with the hub
        running on this node and the executor's thread following the trials."""
        if self._ray is not None:
            return self._ray
        try:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        except ImportError:
            raise InputError("the ray executor needs Ray: pip install 'autotune[ray]', then autotune resume "
                             f"{self.study_dir}") from None
        if not ray.is_initialized():
            problem = _unreachable(self.address)
            if problem:
                raise InputError(f"executor.address: cannot connect to the Ray cluster at {self.address!r}: {problem}; "
                                 "start it with `ray start --head`, or give its address (--ray-address)")
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, ValueError, RuntimeError) as e:
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise InputError(f"executor.address: cannot connect to the Ray cluster at {self.address!r}: "
                                 f"{reason}") from None
            self._owns_session = True
        _notices_to_stderr()
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self._hub = ray.remote(Hub).options(num_cpus=0, scheduling_strategy=here).remote()
        ray.get(self._hub.node_of.remote(""))  # up before the first trials, which tell it where they run
        self._trial = ray.remote(run_on_node)
        self._task_ref = ray.put(self.task)
        self._ray = ray
        self._thread = threading.Thread(target=self._follow, name="autotune-ray", daemon=True)
        self._thread.start()
        return ray

    def _nodes(self) -> list[dict]:
        return [n for n in self._connect().nodes() if n.get("Alive")]

    def capacity(self, gpus: int) -> int:
        """Trials that fit on the cluster's nodes at once, by their CPUs and GPUs (as Ray Tune fills it)."""
        fits = 0
        for held in (n["Resources"] for n in self._nodes()):
            by_cpus = int(held.get("CPU", 0) // self.cpus)
            fits += min(by_cpus, int(held.get("GPU", 0) // gpus)) if gpus else by_cpus
        return fits

    def _unplaceable(self, gpus: int) -> str | None:
        """Why no node of the cluster can hold the trial, or None."""
        held = [n["Resources"] for n in self._nodes()]
        if any(r.get("GPU", 0) >= gpus and r.get("CPU", 0) >= self.cpus for r in held):
            return None
        most_gpus = max((r.get("GPU", 0) for r in held), default=0)
        if gpus > most_gpus:
            return f"needs {gpus} GPUs, at most {most_gpus:g} on one node of the Ray cluster"
        return f"needs {self.cpus:g} CPUs (resources.cpus) and {gpus} GPUs, which no node of the Ray cluster has"

    # -- trials -------------------------------------------------------------------------------------
    def submit(self, spec: TrialSpec) -> "RayHandle":
        self._connect()
        handle = RayHandle(self, spec)
        # The directory exists from the start with the trial's params, as with the local executor, even
        # if the trial never runs; its node's files replace it at the end.
        shutil.rmtree(spec.directory, ignore_errors=True)
        spec.directory.mkdir(parents=True)
        write_json(spec.directory / "params.json", dict(spec.params))
        problem = self._unplaceable(handle.gpus)
        if problem:
            handle.finish(unmeasured("infeasible", error=problem))
        else:
            self._launch(handle)
        return handle

    def _launch(self, handle: "RayHandle") -> None:
        spec = handle.spec
        placed = self.task.resources is not None or handle.gpus > 0
        with self._lock:
            if self._broken:
                handle.finish(unmeasured("failed", error=self._broken))
                return
            handle.key = f"{self.study_key}/{spec.trial_id:04d}/{uuid.uuid4().hex[:12]}"
            handle.received = 0
            handle.ref = self._trial.options(num_cpus=self.cpus, num_gpus=handle.gpus, max_retries=0,
                                             name=f"autotune trial {spec.trial_id}").remote(
                self._task_ref, spec, handle.key, self._hub, self.study_key, placed)
            self._running[handle.ref] = handle
            self._by_key[handle.key] = handle

    def _stop(self, handle: "RayHandle", grace: float) -> None:
        with self._lock:
            if handle.done() or handle.kill_at is not None or handle.ref is None:
                return
            handle.kill_at = time.monotonic() + grace + STOP_MARGIN_S
            key, ref = handle.key, handle.ref
        # The hub's answer is awaited outside the lock, which the executor's thread needs to hand out
        # other trials' reports and results meanwhile.
        try:
            began = self._ray.get(self._hub.stop.remote(key), timeout=STOP_MARGIN_S)
        except self._ray.exceptions.RayError:
            return  # no word to it: the executor's thread kills it at kill_at
        if not began:
            self._ray.cancel(ref)  # still queued: it never began, nothing to stop gently

    def _follow(self) -> None:
        """The executor's thread: hand reports to their handles, take each ended task's result, run a
        trial whose node was lost again, and kill a trial that outlived its stop. It waits on the tasks'
        results and on the hub's news at once, so that neither waits for the other."""
        ray = self._ray
        try:
            self._take = self._hub.take.remote(WAIT_S)
            while True:
                with self._lock:
                    refs = list(self._running)
                if self._closing and not refs:
                    return
                ray.wait(refs + [self._take], num_returns=1, timeout=WAIT_S)
                if ray.wait([self._take], timeout=0)[0]:
                    self._news()
                for ref in ray.wait(refs, num_returns=len(refs), timeout=0)[0] if refs else []:
                    self._end(ref)
                now = time.monotonic()
                for ref, handle in list(self._running.items()):
                    if handle.kill_at is not None and now >= handle.kill_at and not handle.killed:
                        handle.killed = True
                        ray.cancel(ref, force=True)
        except Exception as e:  # noqa: BLE001 -- a broken connection fails the trials, never hangs them
            with self._lock:
                self._broken = f"lost the Ray cluster: {type(e).__name__}: {_line(e)}"
                left = list(self._running.values())
                self._running.clear()
            for handle in left:
                handle.finish(unmeasured("failed", error=self._broken))
            self.wakeup.set()

    def _news(self, timeout: float | None = None) -> None:
        """Hand the reports of the hub's last answer to their trials, and ask it for the next ones."""
        news = self._ray.get(self._take, timeout=timeout)
        self._take = self._hub.take.remote(WAIT_S)
        for key, reports in news.items():
            handle = self._by_key.get(key)
            if handle is not None:
                handle.received += len(reports)
                handle.deliver(reports)
                self.wakeup.set()

    def _end(self, ref) -> None:
        """The Ray task ended: the trial's result, with its files landed here; or its next attempt."""
        with self._lock:
            handle = self._running.pop(ref)
        node_id = self._ray.get(self._hub.node_of.remote(handle.key))
        result, node = self._outcome(handle, ref, node_id)
        self._by_key.pop(handle.key, None)
        self._hub.forget.remote(handle.key)
        if result is LOST:
            handle.lost.append(node_id)
            if len(handle.lost) <= self.max_retries:
                handle.replayed = handle.last_step
                self._launch(handle)
                return
            result = unmeasured("failed", error=f"node lost: {len(handle.lost)} nodes died while running the trial "
                                                  f"(executor.max_retries: {self.max_retries})")
        try:
            write_json(handle.spec.directory / RECORD, {"node": node, "lost": handle.lost})
        except AutotuneError:
            pass  # the record of where it ran is a convenience; the trial's result stands
        handle.finish(result)
        self.wakeup.set()

    def _outcome(self, handle: "RayHandle", ref, node_id: str | None) -> tuple[dict, dict | None]:
        """The trial's result and the node it ran on; LOST when its node died under it."""
        exceptions = self._ray.exceptions
        stopped = unmeasured("stopped", error="stopped")
        try:
            out = self._ray.get(ref)
        except exceptions.TaskCancelledError:
            return stopped, None
        except (exceptions.NodeDiedError, exceptions.WorkerCrashedError) as e:
            if handle.kill_at is not None:
                return stopped, None
            if not isinstance(e, exceptions.NodeDiedError) and self._alive(node_id):
                return unmeasured("failed", error=f"the Ray worker running the trial died: {_line(e)}"), None
            return LOST, None
        except exceptions.RayError as e:
            return unmeasured("failed", error=f"Ray: {_line(e)}"), None
        # Its reports reached the hub before it returned; the hub's answer that holds the last ones may still
        # be on its way here (the task's end woke the hub, so not for long).
        deadline = time.monotonic() + STOP_MARGIN_S
        while handle.received < out["reports"] and time.monotonic() < deadline:
            try:
                self._news(timeout=max(0.0, deadline - time.monotonic()))
            except exceptions.GetTimeoutError:
                break  # the result stands without its last reports
        result = {**out["result"], "gpus": out["node"]["gpus"]}
        try:
            _land(handle.spec.directory, out["files"])
        except OSError as e:
            result.update(outcome("failed", result["runs"], f"cannot write the trial's files: {e.strerror or e}"))
        return result, out["node"]

    def _alive(self, node_id: str | None) -> bool:
        return any(n["NodeID"] == node_id for n in self._nodes())

    def recover(self) -> None:
        """Kill, on every node, the trial processes of this study a killed runner left, and remove its
        directories there. A study that never started a trial left nothing anywhere. Connects first, so
        that a missing extra or an unreachable cluster is said before the study starts."""
        ray = self._connect()
        if not (self.study_dir / "trials").is_dir():
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        clean = ray.remote(clean_node)
        refs = [clean.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(self.study_key) for n in self._nodes()]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=RECOVER_S)
        for ref in done:
            try:
                ray.get(ref)
            except ray.exceptions.RayError:
                pass  # a node lost meanwhile: what ran there is gone with it

    def close(self) -> None:
        if self._ray is None:
            return
        ray = self._ray
        self._closing = True
        with self._lock:
            for handle in self._running.values():
                handle.kill_at = handle.kill_at or time.monotonic()
        self._thread.join()
        try:
            ray.kill(self._hub)
        except ray.exceptions.RayError:
            pass  # gone with its node or the connection
        if self._owns_session:
            ray.shutdown()
        self._ray = None


class RayHandle(TrialHandle):
    def __init__(self, executor: RayExecutor, spec: TrialSpec):
        self.executor = executor
        self.spec = spec
        self.gpus = max(spec.gpus, len(spec.devices or ()))  # finalists name the devices of the original run
        self.key: str | None = None
        self.ref = None
        self.lost: list[str | None] = []   # the nodes that died under it
        self.received = 0                  # reports of the current attempt handed over by the hub
        self.last_step: int | None = None
        self.replayed: int | None = None   # a re-run's reports up to this step were already passed on
        self.kill_at: float | None = None
        self.killed = False
        self._reports: queue.SimpleQueue = queue.SimpleQueue()
        self._result: dict | None = None
        self._done = threading.Event()

    def deliver(self, reports: list[dict]) -> None:
        for report in reports:
            if self.replayed is not None and report["step"] <= self.replayed:
                continue
            self.last_step = report["step"]
            self._reports.put(report)

    def finish(self, result: dict) -> None:
        self._result = result
        self._done.set()

    def poll(self) -> list[dict]:
        return drain(self._reports)

    def done(self) -> bool:
        return self._done.is_set()

    def result(self) -> dict:
        self._done.wait()
        return self._result

    def stop(self, grace: float | None = None) -> None:
        self.executor._stop(self, self.executor.task.kill_grace if grace is None else grace)


def _land(directory: Path, files: Mapping[str, bytes]) -> None:
    """Put the files a node sent back into the trial's directory here, in place of what was there."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _notices_to_stderr() -> None:
    """Ray's driver prints the cluster's notices (a raylet that died, a task to retry) on stdout, where
    autotune's results go (`run` prints the study's path there for scripts): send them to stderr with
    autotune's other messages. Ray has no setting for it, so its printing function is wrapped."""
    from ray._private import worker

    printer = getattr(worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "to_stderr", False):
        return

    def to_stderr(data: dict, ignore_prefix: bool) -> None:
        printer({**data, "is_err": True}, ignore_prefix)

    to_stderr.to_stderr = True
    worker.print_to_stdstream = to_stderr


def _unreachable(address: str) -> str | None:
    """Why nothing answers at a host:port address, or None. ray.init retries an address where nothing
    listens for many minutes (about 40 s an attempt here), so a typo or a cluster that is down is told
    at once instead."""
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS") or address
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or "://" in address:
        return None  # auto (Ray finds the cluster started here, or says there is none) or a client address
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        return f"nothing answers there ({e.strerror or e})"
    return None


def _line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__
