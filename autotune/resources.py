"""What a trial is given to run on: GPU devices from a slot pool, and a free TCP port."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import Any


def detect_devices(visible_env: str = "CUDA_VISIBLE_DEVICES") -> tuple[str, ...]:
    """`devices: auto`: the visible-devices variable if set, else what `nvidia-smi -L` lists, else none."""
    listed = os.environ.get(visible_env)
    if listed is not None:
        return tuple(d.strip() for d in listed.split(",") if d.strip())
    if shutil.which("nvidia-smi") is None:
        return ()
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(str(i) for i, line in enumerate(out.splitlines()) if re.match(r"GPU \d+", line))


def gpus_needed(gpus: int | Sequence[int | str], params: Mapping[str, Any]) -> int:
    """GPUs per trial: an int, or a product of int literals and parameter names ("{tp_size}*{pp_size}"),
    already split into factors by the task's validation."""
    if isinstance(gpus, int):
        return gpus
    total = 1
    for factor in gpus:
        total *= factor if isinstance(factor, int) else int(params[factor])
    return total


class SlotPool:
    """Devices handed to running trials: each trial gets the lowest-numbered free ones, contiguous when
    possible (GPUs next to each other usually share the fastest links); no two trials share one."""

    def __init__(self, devices: Sequence[str]):
        self.devices = tuple(devices)
        self._free = [True] * len(self.devices)

    @property
    def total(self) -> int:
        return len(self.devices)

    def acquire(self, n: int) -> tuple[str, ...] | None:
        """n devices, or None when they are not free now."""
        if n == 0:
            return ()
        free = [i for i, f in enumerate(self._free) if f]
        if len(free) < n:
            return None
        run = next((free[i:i + n] for i in range(len(free) - n + 1) if free[i + n - 1] - free[i] == n - 1), None)
        chosen = run or free[:n]
        for i in chosen:
            self._free[i] = False
        return tuple(self.devices[i] for i in chosen)

    def release(self, devices: Sequence[str]) -> None:
        for device in devices:
            self._free[self.devices.index(device)] = True

    def capacity(self, per_trial: int) -> int:
        """How many trials of `per_trial` GPUs the devices hold at once."""
        return self.total // per_trial if per_trial else 0


_ports_lock = threading.Lock()
_recent_ports: list[int] = []


def reserve_port() -> int:
    """A free TCP port on 127.0.0.1, not handed out recently by this process (parallel trials)."""
    with _ports_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _recent_ports:
                _recent_ports.append(port)
                del _recent_ports[:-256]
                return port
        return port
