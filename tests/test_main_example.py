"""The README's main job: the shipped numpy MLP example, trained for real, tuned with tpe."""
import json

from conftest import ROOT, report_of, run_autotune


def test_main_example_runs_end_to_end(tmp_path):
    study = tmp_path / "study"
    result = run_autotune("run", ROOT / "tasks" / "train-mlp.yaml", "--study-dir", study, "--max-trials", "12")
    assert result.returncode == 0, result.stderr
    state = report_of(study)
    losses = [t["value"] for t in state["trials"] if t["status"] == "completed"]
    assert len(losses) >= 10
    assert min(losses) < 0.8 < max(losses)  # a real landscape: some settings train, some do not
    assert state["study"]["strategy"] == "tpe"
