"""A study on disk: the journal (append-only JSON lines), the checkpoint (a small snapshot replaced
atomically) and the lock that gives one process the study.

The checkpoint says how many bytes of the journal it covers; that is the commit point. Events past it
were written by a run killed before its next checkpoint: a resume drops them (the trial is asked or run
again), a report still shows them. A torn last line is such an event; damage anywhere else is an error.
"""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
from pathlib import Path
from typing import Any

from .errors import AutotuneError, InputError

CHECKPOINT = "checkpoint.json"
PREVIOUS = "checkpoint.prev.json"
JOURNAL = "trials.jsonl"
LOCK = ".lock"


def json_safe(value: Any) -> Any:
    """Non-finite floats become null; JSON has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    try:
        return json.dumps(value, indent=indent, allow_nan=False)
    except ValueError:  # a NaN or infinity somewhere: rare, so the walk that replaces them runs only then
        return json.dumps(json_safe(value), indent=indent, allow_nan=False)


def write_json(path: Path, value: Any) -> None:
    """A plain, non-atomic JSON file (a trial's params or result: rewritten when the trial runs again)."""
    try:
        path.write_text(dumps(value, indent=1) + "\n")
    except OSError as e:
        raise AutotuneError(f"cannot write {path}: {e.strerror or e}") from None


def write_json_atomic(path: Path, value: Any) -> None:
    """Write to a temporary file, fsync, rename over `path`: all or nothing. The directory is not fsynced
    after the rename (a millisecond per trial): if the machine itself goes down before the rename reaches
    the disk, the previous checkpoint is found, which the journal's commit point makes a consistent,
    slightly earlier study (the last trial runs again)."""
    data = (dumps(value, indent=1) + "\n").encode()
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise AutotuneError(f"cannot write {path}: {e.strerror or e}; the previous checkpoint is kept") from None


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_checkpoint(study_dir: Path, state: Any) -> None:
    """Replace the checkpoint atomically, keeping the one it replaces as checkpoint.prev.json (a hard
    link, so nothing is copied and checkpoint.json exists at every moment)."""
    path = study_dir / CHECKPOINT
    if path.exists():
        link = study_dir / f".{PREVIOUS}.tmp"
        try:
            link.unlink(missing_ok=True)
            os.link(path, link)
            os.replace(link, study_dir / PREVIOUS)
        except OSError as e:
            raise AutotuneError(f"cannot keep a copy of {path}: {e.strerror or e}") from None
    write_json_atomic(path, state)


def read_checkpoint(study_dir: Path) -> dict:
    path = study_dir / CHECKPOINT
    if study_dir.is_file() or (not study_dir.exists() and study_dir.suffix in (".yaml", ".yml", ".json")):
        raise InputError(_not_a_directory(study_dir))
    if not study_dir.is_dir():
        raise InputError(f"{study_dir}: no such study directory")
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{study_dir}: not a study (no {CHECKPOINT}); start one with `autotune run TASK`") from None
    except (ValueError, UnicodeDecodeError) as e:
        hint = ""
        if _readable_json(study_dir / PREVIOUS):
            hint = (f"; the previous good one is kept: `cp {study_dir / PREVIOUS} {path}` resumes from one "
                    "step earlier (the trials after it are re-run)")
        raise InputError(f"{path}: corrupted checkpoint ({e}){hint or '; it cannot be resumed as it is'}") from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise InputError(f"{path}: not an autotune checkpoint")
    return state


def _not_a_directory(path: Path) -> str:
    if path.is_file() and path.suffix in (".yaml", ".yml", ".json") and CHECKPOINT not in path.name:
        return f"{path}: is a file, not a study directory; to start a study from this task, use `autotune run {path}`"
    if path.is_file():
        return f"{path}: is a file, not a study directory"
    return f"{path}: no such study directory"


def _readable_json(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text()), dict)
    except (OSError, ValueError, UnicodeDecodeError):
        return False


class Journal:
    """DIR/trials.jsonl: one JSON line per event. Appends are buffered by the kernel and made durable by
    `sync`, which the study calls just before each checkpoint: one fsync per trial, not per event."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def open(self, committed: int) -> "Journal":
        """Open for appending after dropping anything past the `committed` bytes (a run's uncommitted tail)."""
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            if os.fstat(self.fd).st_size > committed:
                os.ftruncate(self.fd, committed)
        except OSError as e:
            raise AutotuneError(f"cannot open {self.path}: {e.strerror or e}") from None
        return self

    def append(self, record: Any) -> None:
        try:
            write_all(self.fd, (dumps(record) + "\n").encode())
        except OSError as e:
            raise AutotuneError(f"cannot append to {self.path}: {e.strerror or e}") from None

    def sync(self) -> int:
        """Make every appended event durable; return the journal's size, the checkpoint's commit point."""
        try:
            os.fsync(self.fd)
            return os.fstat(self.fd).st_size
        except OSError as e:
            raise AutotuneError(f"cannot write {self.path}: {e.strerror or e}") from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def read_journal(path: Path, committed: int | None = None) -> list[dict]:
    """The events in the journal's first `committed` bytes (all of it when None).

    Within the committed part every line must be a JSON object: damage there is an error naming the file
    and line. Past it (or in the last line when all is read), a torn or garbage line is a write cut short.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as e:
        raise InputError(f"{path}: cannot be read: {e.strerror or e}") from None
    if committed is not None:
        if len(data) < committed:
            raise InputError(f"{path}: shorter ({len(data)} bytes) than the checkpoint says it was "
                             f"({committed} bytes): it was truncated or replaced, so the study cannot be opened")
        data = data[:committed]
    lines = data.split(b"\n")
    events = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict) or "event" not in event:
                raise ValueError("not an event")
        except (ValueError, UnicodeDecodeError) as e:
            if committed is None and number == len(lines):
                break  # the last line, still being written or torn by a kill
            raise InputError(f"{path}: line {number} is damaged ({e}); the study cannot be read past it") from None
        events.append(event)
    return events


class StudyLock:
    """An exclusive flock on DIR/.lock: one process owns a study; the kernel drops it when the owner dies,
    so a lock left by a killed process is simply taken over."""

    def __init__(self, study_dir: Path):
        self.path = study_dir / LOCK
        self.fd: int | None = None

    def acquire(self) -> "StudyLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise InputError(f"{self.path.parent}: study is in use by another autotune process "
                                 f"(pid {holder})") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
