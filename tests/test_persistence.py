"""The journal is the record of the trials and the checkpoint a small snapshot that points into it:
sizes that do not grow, damage that is named, a full disk, and studies written by the first release."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_one_line_error, autotune_cmd, cli, fake_trial_task, report_of, run_autotune, write_task

V1_STUDY = Path(__file__).parent / "fixtures" / "studies" / "v1-completed"
QUICK = "import json, sys; print(json.dumps({'loss': (float(sys.argv[1]) - 0.3) ** 2}))"


def quick_task(**extra):
    return fake_trial_task(command=[sys.executable, "-c", QUICK, "{x}"],
                           parameters={"x": {"type": "float", "low": 0.0, "high": 1.0}},
                           strategy={"name": "tpe", "seed": 1}, **extra)


def test_the_checkpoint_does_not_grow_with_the_trials(tmp_path):
    """The checkpoint is the same size at any length of study, and what each trial adds to the journal
    (its events and a commit) is the same early and late."""
    path = write_task(tmp_path, quick_task())
    sizes = {}
    for trials in (4, 24, 44):
        study = tmp_path / f"s{trials}"
        assert cli("run", path, "--study-dir", study, "--max-trials", trials).exit_code == 0
        sizes[trials] = ((study / "checkpoint.json").stat().st_size, (study / "trials.jsonl").stat().st_size)
    assert max(c for c, _ in sizes.values()) - min(c for c, _ in sizes.values()) < 100
    assert max(c for c, _ in sizes.values()) < 64 * 1024
    early, late = sizes[24][1] - sizes[4][1], sizes[44][1] - sizes[24][1]
    assert early > 0 and abs(late - early) < 0.05 * early


def test_events_past_the_checkpoint_are_dropped_on_resume(tmp_path):
    path = write_task(tmp_path, quick_task())
    study = tmp_path / "s"
    assert cli("run", path, "--study-dir", study, "--max-trials", "3").exit_code == 0
    expected = [t["params"] for t in report_of(study)["trials"]]
    with open(study / "trials.jsonl", "ab") as f:  # what a run killed before its next checkpoint leaves
        f.write(b'{"event": "started", "id": 3, "params": {"x": 0.5}, "gpus": null}\n\x00garbage\n{"half": ')
    result = cli("resume", study, "--max-trials", "5")
    assert result.exit_code == 0, result.stderr
    trials = report_of(study)["trials"]
    assert [t["params"] for t in trials[:3]] == expected and [t["id"] for t in trials] == [0, 1, 2, 3, 4]
    assert all(t["status"] == "completed" for t in trials)


@pytest.mark.parametrize("journal", ["empty", "creation commit", "creation commit cut short"])
def test_a_run_killed_before_its_first_checkpoint_leaves_a_directory_run_can_use(tmp_path, journal):
    """What kill -9 before checkpoint.json first exists leaves (the task's copy, the lock file, a journal
    that is empty or holds only the creation's commit, a half-written temporary checkpoint) is not a study
    yet: `run` takes the directory."""
    path = write_task(tmp_path, quick_task())
    commit = creation_commit(tmp_path, path)
    study = tmp_path / "s"
    study.mkdir()
    shutil.copy(path, study / "task.yaml")
    (study / ".lock").write_text("")
    (study / "trials.jsonl").write_bytes({"empty": b"", "creation commit": commit,
                                          "creation commit cut short": commit[:40]}[journal])
    (study / ".checkpoint.json.tmp").write_text('{"format_version": ')
    result = cli("run", path, "--study-dir", study, "--max-trials", "2")
    assert result.exit_code == 0, result.stderr
    assert [t["status"] for t in report_of(study)["trials"]] == ["completed", "completed"]


@pytest.mark.parametrize("journal", ["a trial's event", "another tool's file"])
def test_a_journal_holding_more_than_the_creation_commit_keeps_run_out(tmp_path, journal):
    path = write_task(tmp_path, quick_task())
    content = {"a trial's event": creation_commit(tmp_path, path) +
               b'{"event": "started", "id": 0, "params": {"x": 0.5}, "gpus": null}\n',
               "another tool's file": b'{"trial": 0, "value": 0.31}\n{"trial": 1, "value": 0.29}\n'}[journal]
    other = tmp_path / "other"
    other.mkdir()
    (other / "trials.jsonl").write_bytes(content)
    assert_one_line_error(cli("run", path, "--study-dir", other), 2, "not an empty directory")
    assert (other / "trials.jsonl").read_bytes() == content


def creation_commit(tmp_path, path) -> bytes:
    """The first line of a real study's journal: the commit its creation writes before checkpoint.json."""
    done = tmp_path / "done"
    assert cli("run", path, "--study-dir", done, "--max-trials", "1").exit_code == 0
    line = (done / "trials.jsonl").read_bytes().split(b"\n")[0] + b"\n"
    assert line.startswith(b'{"event": "checkpoint"')
    return line


def test_damage_inside_the_journal_is_an_error_naming_the_line(tmp_path):
    path = write_task(tmp_path, quick_task())
    study = tmp_path / "s"
    cli("run", path, "--study-dir", study, "--max-trials", "2")
    journal = study / "trials.jsonl"
    lines = journal.read_bytes().split(b"\n")
    lines[1] = b"x" * len(lines[1])  # same length: the checkpoint still covers the file
    journal.write_bytes(b"\n".join(lines))
    assert_one_line_error(cli("resume", study, "--max-trials", "3"), 2, str(journal), "line 2 is damaged")
    assert_one_line_error(cli("report", study), 2, "line 2 is damaged")


def test_a_journal_shorter_than_its_checkpoint_is_refused(tmp_path):
    path = write_task(tmp_path, quick_task())
    study = tmp_path / "s"
    cli("run", path, "--study-dir", study, "--max-trials", "2")
    journal = study / "trials.jsonl"
    journal.write_bytes(journal.read_bytes()[:40])
    assert_one_line_error(cli("resume", study, "--max-trials", "3"), 2, str(journal), "shorter")


def test_a_study_killed_outright_reports_interrupted_not_running(tmp_path):
    task = fake_trial_task(parameters={"x": [1, 2], "mode": ["sleep"]})
    study = tmp_path / "s"
    proc = subprocess.Popen(autotune_cmd("run", write_task(tmp_path, task), "--study-dir", study),
                            env={**__import__("os").environ, "FAKE_SLEEP": "30"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = __import__("time").monotonic() + 30
        while not (study / "checkpoint.json").exists() and __import__("time").monotonic() < deadline:
            __import__("time").sleep(0.05)
        assert report_of(study)["study"]["status"] == "running"  # its owner is alive
    finally:
        proc.kill()
        proc.wait()
    assert report_of(study)["study"]["status"] == "interrupted"


# -- a real full disk ------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 192 KiB tmpfs: a disk that really fills (ENOSPC), not a file-size limit."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_while_a_trial_logs_stops_with_one_line_and_stays_resumable(tmp_path, small_disk):
    # Each trial prints about 60 KB; the disk holds two or three trials' logs.
    chatty = "import json; print('x' * 60000); print(json.dumps({'loss': 1.0}))"
    task = fake_trial_task(command=[sys.executable, "-c", chatty], parameters={"x": list(range(8))})
    path = write_task(tmp_path, task)
    study = small_disk / "s"
    result = run_autotune("run", path, "--study-dir", study)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "No space left on device" in result.stderr.splitlines()[-1]
    report = report_of(study)
    assert report["study"]["status"] != "running"
    done = [t for t in report["trials"] if t["status"] == "completed"]
    assert 0 < len(done) < 8
    # With room again, the same study resumes and finishes.
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    resumed = run_autotune("resume", study)
    assert resumed.returncode == 0, resumed.stderr
    final = report_of(study)
    assert final["study"]["status"] == "completed" and len(final["trials"]) == 8
    assert [t["params"]["x"] for t in final["trials"][:len(done)]] == [t["params"]["x"] for t in done]


# -- studies written by the first release ----------------------------------------------------------

def test_a_format_1_study_is_reported_as_it_is(tmp_path):
    study = tmp_path / "old"
    shutil.copytree(V1_STUDY, study)
    before = {p.name: p.read_bytes() for p in study.iterdir()}
    report = report_of(study)
    old = json.loads((V1_STUDY / "checkpoint.json").read_text())
    assert [(t["id"], t["params"], t["value"]) for t in report["trials"]] == \
        [(t["id"], t["params"], t["value"]) for t in old["trials"]]
    assert report["best"]["trial_id"] == 5 and report["verdict"] == "clear" and len(report["finalists"]) == 2
    assert {p.name: p.read_bytes() for p in study.iterdir()} == before  # reading changes nothing


def test_a_format_1_study_is_migrated_when_resumed(tmp_path):
    study = tmp_path / "old"
    shutil.copytree(V1_STUDY, study)
    old = json.loads((V1_STUDY / "checkpoint.json").read_text())
    result = run_autotune("resume", study, "--max-trials", "9")
    assert result.returncode == 0, result.stderr
    assert (study / "checkpoint.v1.json").read_bytes() == (V1_STUDY / "checkpoint.json").read_bytes()
    assert json.loads((study / "checkpoint.json").read_text())["format_version"] == 2
    trials = report_of(study)["trials"]
    assert [(t["params"], t["value"]) for t in trials[:6]] == [(t["params"], t["value"]) for t in old["trials"]]
    assert len(trials) == 9 and all(t["status"] == "completed" for t in trials)
    assert len({json.dumps(t["params"], sort_keys=True) for t in trials}) == 9


def test_a_study_from_a_newer_release_is_refused(tmp_path):
    study = tmp_path / "new"
    shutil.copytree(V1_STUDY, study)
    state = json.loads((study / "checkpoint.json").read_text())
    state["format_version"] = 99
    (study / "checkpoint.json").write_text(json.dumps(state))
    assert_one_line_error(cli("resume", study), 2, "format 99", "newer autotune")
    assert_one_line_error(cli("report", study), 2, "format 99")
