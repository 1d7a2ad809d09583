"""Progress: a live rich bar on a terminal, plain control-free lines without one."""
import os
import pty
import select
import subprocess
import time

from conftest import autotune_cmd, fake_trial_task, run_autotune, write_task


def test_plain_lines_without_a_terminal(tmp_path):
    path = write_task(tmp_path, fake_trial_task())
    result = run_autotune("run", path, "--study-dir", tmp_path / "s")
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert all(line.startswith("autotune: ") for line in lines)
    assert not any(ch in result.stderr for ch in "\x1b\r\b")
    assert sum("started" in line for line in lines) == 5 and sum("completed in" in line for line in lines) == 5
    assert "best trial" in lines[-3] and lines[-2].startswith("autotune: best: trial") and "next:" in lines[-1]


def test_live_progress_bar_on_a_terminal(tmp_path):
    path = write_task(tmp_path, fake_trial_task())
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(autotune_cmd("run", path, "--study-dir", tmp_path / "s"), stdout=subprocess.DEVNULL,
                            stderr=follower, stdin=follower, env=env)
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    proc.wait()
    os.close(leader)
    text = output.decode(errors="replace")
    assert proc.returncode == 0
    assert "\x1b[" in text                      # a live display, redrawn in place
    assert "/5" in text and "best trial" in text  # trials done of the budget, best so far
    assert "ETA" in text
