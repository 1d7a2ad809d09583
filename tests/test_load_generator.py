"""The load generator against a real streaming server, through the vllm adapter, as a study would."""
import json
import sys
from pathlib import Path

from conftest import ROOT, cli, report_of, write_task

FAKE_OPENAI = Path(__file__).resolve().parent / "fixtures" / "fake_openai.py"
LOAD = ROOT / "tasks" / "workloads" / "load_openai.py"


def test_a_study_tunes_a_streaming_server_through_the_vllm_format(tmp_path):
    task = {
        "name": "stream",
        "service": {"command": [sys.executable, str(FAKE_OPENAI), "{port}", "{delay_ms}"],
                    "ready": {"http": "http://127.0.0.1:{port}/health", "timeout": "20s", "interval": "0.1s"}},
        "command": ["python", str(LOAD), "--url", "http://127.0.0.1:{port}", "--concurrency", "4",
                    "--num-prompts", "8", "--max-tokens", "8"],
        "metrics": {"format": "vllm"},
        "parameters": {"delay_ms": [2, 20]},
        "objective": "throughput",
        "slo": {"ttft": {"threshold": 1.0}},
        "strategy": "grid",
    }
    study = tmp_path / "s"
    result = cli("run", write_task(tmp_path, task), "--study-dir", study)
    assert result.exit_code == 0, result.stderr
    trials = report_of(study)["trials"]
    fast, slow = sorted(trials, key=lambda t: t["params"]["delay_ms"])
    for trial in trials:
        m = trial["metrics"]
        assert trial["status"] == "completed" and m["completed"] == 8 and m["total_output_tokens"] == 64
        assert 0 < m["mean_ttft"] < m["mean_e2e_latency"] < 5 and m["p99_itl"] > 0
    assert fast["value"] > 2 * slow["value"]  # tokens per second: a 10x slower stream is measured as slower
    assert slow["metrics"]["mean_tpot"] > fast["metrics"]["mean_tpot"]
    best = json.loads(cli("report", study, "--format", "json").stdout)["best"]
    assert best["params"] == {"delay_ms": 2}
