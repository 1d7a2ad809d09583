"""Processes of a trial on this machine: each in its own process group (a session), its output drained
into capped log files, its whole tree killed on a timeout, a stop or an interrupt."""
from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.05
TRIAL_DIR_VAR = "AUTOTUNE_TRIAL_DIR"
LOG_HEAD = 32 << 20  # bytes kept from the start of a log
LOG_TAIL = 1 << 20   # bytes kept from the end once the head is full (where the metrics usually are)
MAX_LINE = 1 << 16   # longer lines are never progress reports, so the line watcher does not keep them


@dataclass
class RunResult:
    returncode: int | None
    duration_s: float
    error: str | None = None       # why the run failed, or None
    stopped: bool = False          # ended by the stop event, not by itself


class Stopped(Exception):
    """The stop event was set while a command or service was running."""


def describe_exit(returncode: int) -> str | None:
    if returncode == 0:
        return None
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class Process(subprocess.Popen):
    """A process in a new session whose stdout and stderr are pipes drained by threads into capped log
    files, so a trial printing gigabytes costs neither disk nor memory beyond LOG_HEAD + LOG_TAIL per log.
    `on_line` sees each complete stdout line (progress reports)."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdout: Path,
                 stderr: Path | None = None, on_line: Callable[[bytes], None] | None = None):
        super().__init__(list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT if stderr is None else subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.log_error: str | None = None
        pipes = [(self.stdout, stdout, on_line)] + ([(self.stderr, stderr, None)] if stderr is not None else [])
        self.pumps = [threading.Thread(target=self._pump, args=pipe, daemon=True) for pipe in pipes]
        for pump in self.pumps:
            pump.start()

    def close_logs(self, timeout: float = 10.0) -> None:
        """Wait until the logs hold everything the process group wrote (its pipes are closed)."""
        for pump in self.pumps:
            pump.join(timeout)

    def _pump(self, source, path: Path, on_line: Callable[[bytes], None] | None) -> None:
        """Copy the pipe into the log: the head, then a rolling tail. A log that cannot be written (a full
        disk) is noted, and the pipe is still drained so the process never blocks on it."""
        written = dropped = 0
        tail, line = bytearray(), bytearray()
        out = self._open_log(path)
        while chunk := source.read1(1 << 16):
            if on_line is not None:
                line = _lines(line + chunk, on_line)
            if out is None:
                continue
            try:
                if written < LOG_HEAD:
                    head = chunk[:LOG_HEAD - written]
                    out.write(head)
                    written += len(head)
                    chunk = chunk[len(head):]
            except OSError as e:
                out = self._log_failed(out, path, e)
                continue
            if chunk:
                tail += chunk
                if len(tail) > LOG_TAIL:
                    dropped += len(tail) - LOG_TAIL
                    del tail[:len(tail) - LOG_TAIL]
        if on_line is not None and line:
            on_line(bytes(line))
        if out is not None:
            try:
                if dropped:
                    out.write(f"\n[autotune: {dropped} bytes of output dropped here]\n".encode())
                out.write(tail)
                out.close()
            except OSError as e:
                self._log_failed(out, path, e)
        source.close()

    def _open_log(self, path: Path):
        try:
            return open(path, "ab", buffering=0)
        except OSError as e:
            return self._log_failed(None, path, e)

    def _log_failed(self, out, path: Path, error: OSError) -> None:
        self.log_error = self.log_error or f"cannot write {path.name}: {error.strerror or error}"
        if out is not None:
            try:
                out.close()
            except OSError:
                pass
        return None


def _lines(buffer: bytearray, on_line: Callable[[bytes], None]) -> bytearray:
    """Hand each complete line to on_line; return the unfinished rest (dropped past MAX_LINE)."""
    *complete, rest = bytes(buffer).split(b"\n")
    for line in complete:
        if len(line) <= MAX_LINE:
            on_line(line)
    return bytearray(rest) if len(rest) <= MAX_LINE else bytearray()


def run(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdout: Path, stderr: Path,
        stop: threading.Event, kill_grace: float, timeout: float | None = None,
        on_line: Callable[[bytes], None] | None = None, on_tick: Callable[[], None] | None = None) -> RunResult:
    """Run to completion, the timeout, or the stop event; the whole process group is gone afterwards.
    `on_tick` is called every POLL_S while it runs, and once at the end."""
    started = time.monotonic()
    try:
        proc = Process(argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr, on_line=on_line)
    except OSError as e:
        return RunResult(None, 0.0, f"could not start {argv[0]!r}: {e.strerror or e}")
    deadline = None if timeout is None else started + timeout
    pidfd = _pidfd(proc)
    try:
        while True:
            if _exited(proc, pidfd, POLL_S):
                break
            if on_tick is not None:
                on_tick()
            if stop.is_set():
                terminate(proc, kill_grace)
                return RunResult(proc.returncode, time.monotonic() - started, "stopped", stopped=True)
            if deadline is not None and time.monotonic() >= deadline:
                terminate(proc, kill_grace)
                return RunResult(proc.returncode, time.monotonic() - started, f"timed out after {timeout:g}s")
    finally:
        kill_group(proc.pid, signal.SIGKILL)  # whatever the command left behind in its group
        if pidfd is not None:
            os.close(pidfd)
        proc.close_logs()
        if on_tick is not None:
            on_tick()
    error = describe_exit(proc.returncode) or proc.log_error
    return RunResult(proc.returncode, time.monotonic() - started, error)


def _pidfd(proc: Process) -> int | None:
    """A descriptor that becomes readable when the process exits (Linux), or None where there is none."""
    try:
        return os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return None


def _exited(proc: Process, pidfd: int | None, timeout: float) -> bool:
    """Wait up to `timeout` for the process to exit. Popen.wait(timeout) polls (at 1, 3, 7 ms...), which
    adds up to about a short trial's own length to it; a pidfd wakes the moment the process exits.
    poll, not select: select refuses descriptor numbers past 1024 (many parallel trials)."""
    if pidfd is not None:
        watcher = select.poll()
        watcher.register(pidfd, select.POLLIN)
        if not watcher.poll(timeout * 1000):
            return False
        proc.wait()
        return True
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def terminate(proc: Process, grace: float) -> None:
    """SIGTERM to the group, then SIGKILL after the grace period."""
    kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    kill_group(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.close_logs()


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_ready(proc: Process, ready, log: Path, stop: threading.Event) -> None:
    """Block until the service passes its readiness probe; raise RuntimeError (or Stopped) if it can't."""
    deadline = time.monotonic() + ready.timeout
    pattern = re.compile(ready.log) if ready.log else None
    while True:
        if stop.is_set():
            raise Stopped()
        code = proc.poll()
        if code is not None:
            raise RuntimeError(f"service exited before it was ready ({describe_exit(code) or 'exit code 0'})")
        if _probe(ready, pattern, log):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"service not ready after {ready.timeout:g}s")
        stop.wait(ready.interval)


def _probe(ready, pattern: re.Pattern | None, log: Path) -> bool:
    if ready.http:
        try:
            with urllib.request.urlopen(ready.http, timeout=2) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False
    if ready.tcp:
        host, _, port = ready.tcp.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
                return True
        except (OSError, ValueError):
            return False
    try:
        return bool(pattern.search(log.read_text(errors="replace")))
    except OSError:
        return False


def kill_leftovers(trials_dir: Path) -> list[int]:
    """Kill the process groups of trial processes a killed runner left behind.

    Every trial process carries AUTOTUNE_TRIAL_DIR in its environment; /proc shows it for processes of
    the same user, so leftovers are found without trusting recorded pids that may have been reused.
    """
    marker = f"{TRIAL_DIR_VAR}={trials_dir.resolve()}{os.sep}".encode()
    groups = set()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            if any(var.startswith(marker) for var in environ.split(b"\0")):
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue
    groups.discard(os.getpgrp())
    for pgid in groups:
        kill_group(pgid, signal.SIGKILL)
    return sorted(groups)
