"""The headline use case for real: llama.cpp's server and SmolLM2, started and tuned by autotune.

The README's test command runs tasks/workloads/setup_llama.sh first (a cached build after the first
time), so the server and the model are there."""
import json

from conftest import ROOT, report_of, run_autotune


def test_a_short_real_llm_study(tmp_path):
    study = tmp_path / "llm"
    result = run_autotune("run", ROOT / "tasks" / "llama-cpp-serving.yaml", "--study-dir", study,
                          "--max-trials", "2", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    state = report_of(study)
    assert [t["status"] for t in state["trials"]] == ["completed"] * 2, [t["error"] for t in state["trials"]]
    assert state["trials"][0]["params"]["parallel"] == 1  # the baseline, evaluated first
    for trial in state["trials"]:
        m = trial["metrics"]
        assert m["completed"] == 12 and m["total_output_tokens"] == 12 * 48
        assert 0 < m["mean_ttft"] < m["mean_e2e_latency"] and m["mean_output_throughput"] > 0
        assert "llama_server: model loaded" in (study / "trials" / f"{trial['id']:04d}" / "service.log").read_text()
    finalists = {f["trial_id"] for f in state["finalists"]}
    assert finalists == {0, 1}  # the best 2: the baseline and the one other trial
    # the verdict weighs the answer against the other finalists, the baseline aside: with trial 1 the
    # answer there is none to weigh it against
    expected = {None} if state["best"]["trial_id"] == 1 else {"clear", "inconclusive"}
    assert state["verdict"] in expected, state["verdict_reason"]
    assert all(len(f["runs"]) == 3 for f in state["finalists"])  # the baseline re-measured with them
    assert state["best"]["remeasured"] and state["best"]["trial_id"] in finalists
    markdown = run_autotune("report", study, "--format", "markdown").stdout
    assert "Best vs baseline (trial 0): " in markdown  # a gain, or the baseline held up as the best
