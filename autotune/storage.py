"""A study on disk: the journal (append-only JSON lines), the checkpoint (a small snapshot) and the lock
that gives one process the study.

The commit point is in the journal itself: after each trial the study appends a `checkpoint` event
holding the small state (budget, status, the strategy's and scheduler's random generators and counters)
and makes the journal durable with one fsync. checkpoint.json is then replaced atomically with the same
state, for people and tools to read; a damaged one is rebuilt from the journal. Events past the last
`checkpoint` were written by a run killed before its next commit: a resume drops them (the trial is asked
or run again), a report still shows them. A torn last line is such an event; damage before the commit
point is an error that names the file and line.
"""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AutotuneError, InputError

CHECKPOINT = "checkpoint.json"
JOURNAL = "trials.jsonl"
LOCK = ".lock"
COMMIT = "checkpoint"
COMMIT_PREFIX = json.dumps({"event": COMMIT})[:-1].encode()  # how a commit line starts


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
    """JSON without NaN or infinity. Files written per trial leave `indent` out: with it json falls back to
    its pure-Python encoder, most of a millisecond per trial."""
    try:
        return json.dumps(value, indent=indent, allow_nan=False)
    except ValueError:  # a NaN or infinity somewhere: rare, so the walk that replaces them runs only then
        return json.dumps(json_safe(value), indent=indent, allow_nan=False)


def write_json(path: Path, value: Any) -> None:
    """A plain, non-atomic JSON file (a trial's params or result: rewritten when the trial runs again)."""
    try:
        path.write_text(dumps(value) + "\n")
    except OSError as e:
        raise AutotuneError(f"cannot write {path}: {e.strerror or e}") from None


def write_json_atomic(path: Path, value: Any) -> None:
    """Write to a temporary file and rename it over `path`: all or nothing to a reader. Not fsynced."""
    data = (dumps(value) + "\n").encode()
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, data)
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
    """Replace checkpoint.json atomically with the state the journal just committed. Not fsynced: the
    journal is the durable copy, and a checkpoint.json lost to a crash is rebuilt from it."""
    write_json_atomic(study_dir / CHECKPOINT, state)


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
        raise DamagedCheckpoint(f"{path}: corrupted checkpoint ({e}) and no journal to rebuild it from") from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise InputError(f"{path}: not an autotune checkpoint")
    return state


def _not_a_directory(path: Path) -> str:
    if path.is_file() and path.suffix in (".yaml", ".yml", ".json") and CHECKPOINT not in path.name:
        return f"{path}: is a file, not a study directory; to start a study from this task, use `autotune run {path}`"
    if path.is_file():
        return f"{path}: is a file, not a study directory"
    return f"{path}: no such study directory"


class DamagedCheckpoint(InputError):
    """checkpoint.json is not JSON; a study whose journal holds a commit rebuilds it from there."""


class Journal:
    """DIR/trials.jsonl: one JSON line per event. Appends go to the kernel at once (a killed process loses
    none) and become durable at each commit: one fsync per trial, not per event."""

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

    def commit(self, state: Any) -> int:
        """Append the state as the commit point and make the journal durable; return its size."""
        self.append({"event": COMMIT, "state": state})
        try:
            os.fsync(self.fd)
            return os.fstat(self.fd).st_size
        except OSError as e:
            raise AutotuneError(f"cannot write {self.path}: {e.strerror or e}") from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class JournalContents:
    events: list            # every event but the commits, in order
    state: dict | None      # the last commit's state; None when the journal holds none (format 1)
    committed: int          # bytes up to and with the last commit's line


def read_journal(path: Path, committed_only: bool = False) -> JournalContents:
    """The journal's events and its last commit. With `committed_only` (a resume) the events after the last
    commit are left out; otherwise (a report) they are kept, a torn last line skipped.

    Every line up to the last commit must be a JSON object: damage there is an error naming the file and
    line. Commit lines before the last one are only looked at, not parsed: opening a long study reads each
    of its trials once.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as e:
        raise InputError(f"{path}: cannot be read: {e.strerror or e}") from None
    lines = data.split(b"\n")
    last = max((i for i, line in enumerate(lines) if line.startswith(COMMIT_PREFIX)), default=-1)
    events, state, offset, committed = [], None, 0, 0
    for number, line in enumerate(lines, 1):
        offset += len(line) + 1
        if not line.strip() or (number - 1 < last and line.startswith(COMMIT_PREFIX)):
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict) or "event" not in event:
                raise ValueError("not an event")
        except (ValueError, UnicodeDecodeError) as e:
            if number - 1 > last:
                break  # past the commit point: a write cut short by a kill
            raise InputError(f"{path}: line {number} is damaged ({e}); the study cannot be read past it") from None
        if number - 1 == last:
            state, committed = event["state"], offset
            if committed_only:
                break
        else:
            events.append(event)
    return JournalContents(events, state, committed)


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
