"""Metrics sources and adapters, on real files and real output text."""
import json
import math
import time

import pytest

from autotune.metrics import MetricsError, convert, last_json_line, parse_records, read_metrics
from autotune.task import MetricsSpec

VLLM = {"backend": "vllm", "request_rate": "inf", "completed": 200, "request_throughput": 7.5,
        "output_throughput": 900.0, "total_token_throughput": 4700.0, "mean_ttft_ms": 120.0,
        "median_ttft_ms": 100.0, "p99_ttft_ms": 400.0, "mean_tpot_ms": 20.0, "p90_tpot_ms": 30.0,
        "mean_itl_ms": 19.0, "mean_e2el_ms": 2600.0, "p90_e2el_ms": 3100.0}
SGLANG = {"backend": "sglang", "request_throughput": 6.0, "output_throughput": 800.0, "total_throughput": 4000.0,
          "mean_e2e_latency_ms": 2500.0, "median_e2e_latency_ms": 2400.0, "p99_e2e_latency_ms": 5000.0,
          "mean_ttft_ms": 150.0, "p99_ttft_ms": 600.0, "mean_tpot_ms": 25.0, "mean_itl_ms": 24.0}


def test_vllm_save_result_maps_to_seconds():
    [m] = convert(VLLM, "auto")
    assert m["mean_ttft"] == pytest.approx(0.12) and m["p50_ttft"] == pytest.approx(0.1)
    assert m["p99_ttft"] == pytest.approx(0.4) and m["p90_tpot"] == pytest.approx(0.03)
    assert m["mean_e2e_latency"] == pytest.approx(2.6) and m["p90_e2e_latency"] == pytest.approx(3.1)
    assert m["mean_output_throughput"] == 900.0 and m["mean_total_throughput"] == 4700.0
    assert math.isinf(m["request_rate"]) and m["completed"] == 200


def test_sglang_maps_to_seconds():
    [m] = convert(SGLANG, "auto")
    assert m["mean_e2e_latency"] == pytest.approx(2.5) and m["p50_e2e_latency"] == pytest.approx(2.4)
    assert m["mean_total_throughput"] == 4000.0 and m["mean_ttft"] == pytest.approx(0.15)


def test_flat_keeps_numbers_and_drops_the_rest():
    assert convert({"eval_loss": 0.5, "name": "x", "ok": True, "nested": {"a": 1}}, "auto") == [{"eval_loss": 0.5}]


def test_appended_records_and_bare_infinity():
    text = json.dumps(SGLANG) + "\n" + json.dumps({**SGLANG, "total_throughput": 1.0}).replace("6.0", "Infinity")
    records = parse_records(text)
    assert len(records) == 2 and records[-1]["total_throughput"] == 1.0
    assert math.isinf(records[-1]["request_throughput"])
    assert len(parse_records(json.dumps(VLLM, indent=2) + json.dumps(VLLM))) == 2


def test_last_json_object_line_of_stdout():
    text = 'starting\n{"eval_loss": 2}\nnoise {"x": 1\n{"eval_loss": 1}\ndone\n'
    assert last_json_line(text) == {"eval_loss": 1}
    assert last_json_line("no json here\n[1, 2]\n") is None


def spec(**kw):
    return MetricsSpec(**kw)


def test_file_beats_stdout_and_stdout_beats_regex(tmp_path):
    default = tmp_path / "run-1.json"
    since = time.time() - 1
    stdout = 'loss=9.5\n{"eval_loss": 2.0}\n'
    regex = spec(regex={"eval_loss": r"loss=([0-9.]+)"})
    assert read_metrics(regex, tmp_path, default, "loss=9.5\n", since) == ([{"eval_loss": 9.5}],
                                                                           "metrics.regex on stdout")
    assert read_metrics(regex, tmp_path, default, stdout, since) == ([{"eval_loss": 2.0}],
                                                                     "the last JSON line of stdout")
    default.write_text('{"eval_loss": 1.0}')
    assert read_metrics(regex, tmp_path, default, stdout, since) == ([{"eval_loss": 1.0}], "metrics file run-1.json")


def test_glob_gives_batches_and_ignores_stale_files(tmp_path):
    (tmp_path / "old.json").write_text('{"eval_loss": 9}')
    since = time.time() + 0.01
    time.sleep(0.02)
    for c in (1, 2):
        (tmp_path / f"result_c{c}.json").write_text(json.dumps({"eval_loss": c}))
    batches, source = read_metrics(spec(file="*.json"), tmp_path, tmp_path / "none.json", "", since)
    assert batches == [{"eval_loss": 1.0}, {"eval_loss": 2.0}]
    assert source == "metrics file result_c1.json, result_c2.json"


def test_a_metrics_file_the_run_never_wrote_fails_it_and_names_the_file(tmp_path):
    with pytest.raises(MetricsError) as caught:
        read_metrics(spec(file="result.json"), tmp_path, tmp_path / "run-1.json", '{"eval_loss": 1.0}\n', 0)
    message = str(caught.value)
    assert "'result.json' was not written" in message
    assert str(tmp_path / "stdout.log") in message and str(tmp_path / "stderr.log") in message


@pytest.mark.parametrize("content,reason", [("{oops", "not JSON"), ("   ", "no JSON object"), ("[1, 2]", "no JSON object")])
def test_garbage_metrics_file(tmp_path, content, reason):
    default = tmp_path / "run-1.json"
    default.write_text(content)
    with pytest.raises(MetricsError, match=reason):
        read_metrics(spec(), tmp_path, default, "", 0)


def test_nothing_at_all(tmp_path):
    with pytest.raises(MetricsError, match="no metrics"):
        read_metrics(spec(), tmp_path, tmp_path / "run-1.json", "just text\n", 0)


FIXTURES = __import__("pathlib").Path(__file__).resolve().parent / "fixtures" / "metrics"


def from_fixture(tmp_path, pattern, fmt="auto"):
    import shutil
    for path in FIXTURES.glob(pattern):
        copy = tmp_path / path.relative_to(FIXTURES)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
    return read_metrics(spec(format=fmt, file=pattern), tmp_path, tmp_path / "none.json", "", 0)[0]


@pytest.mark.parametrize("fmt", ["auto", "vllm"])
def test_vllm_appended_results_take_the_last_and_the_legacy_goodput_key(tmp_path, fmt):
    [m] = from_fixture(tmp_path, "vllm_append.json", fmt)
    assert m["mean_output_throughput"] == 700.0 and m["mean_ttft"] == pytest.approx(0.12)
    assert m["request_goodput"] == 4.5 and math.isinf(m["request_rate"])
    assert m["p90_e2e_latency"] == pytest.approx(4.0) and m["p99_itl"] == pytest.approx(0.06)


@pytest.mark.parametrize("fmt", ["auto", "sglang"])
def test_sglang_jsonl_takes_the_last_record(tmp_path, fmt):
    [m] = from_fixture(tmp_path, "sglang.jsonl", fmt)
    assert m["mean_output_throughput"] == 850.0 and m["mean_total_throughput"] == 4250.0
    assert m["p90_e2e_latency"] == pytest.approx(3.1) and math.isinf(m["request_rate"])


GENAI_BENCH = "real/genai-bench-0.0.5/*.json"


@pytest.mark.parametrize("fmt", ["auto", "genai-bench"])
def test_genai_bench_experiment_folder_gives_one_batch_per_concurrency(tmp_path, fmt):
    """The glob also matches experiment_metadata.json, which is not a result and is left out."""
    low, high = from_fixture(tmp_path, GENAI_BENCH, fmt)
    assert low["num_concurrency"] == 1 and high["num_concurrency"] == 4
    assert low["mean_ttft"] == pytest.approx(0.7427, abs=1e-4) and low["p90_ttft"] == pytest.approx(1.5849, abs=1e-4)
    assert high["mean_e2e_latency"] == pytest.approx(0.9113, abs=1e-4) and high["p99_tpot"] == pytest.approx(0.0283, abs=1e-4)
    assert high["mean_output_throughput"] == pytest.approx(63.5756, abs=1e-4)
    assert high["mean_total_throughput"] == pytest.approx(310.4276, abs=1e-4)
    assert high["request_throughput"] == pytest.approx(3.9735, abs=1e-4)


def test_genai_bench_time_unit_ms():
    record = json.loads(next(FIXTURES.glob("real/genai-bench-0.0.5/*concurrency_1_*.json")).read_text())
    record["_time_unit"] = "ms"
    record["aggregated_metrics"]["stats"]["ttft"]["mean"] = 100.0
    [m] = convert(record, "auto")
    assert m["mean_ttft"] == pytest.approx(0.1)


# What each guidellm release printed for its own run (median TTFT, ITL and TPOT in ms; mean output and
# total tokens per second and requests per second), concurrency 1 then 4: the adapter must agree.
GUIDELLM_PRINTED = {
    "0.3.1": [(2311.6, 278.7, 261.3, 2.2, 6.5, 0.14), (3822.2, 538.4, 504.8, 5.2, 15.9, 0.33)],
    "0.4.0": [(34.6, 11.5, 13.0, 78.2, 376.1, 4.7), (477.5, 26.7, 55.5, 97.4, 468.9, 4.4)],
    "0.5.4": [(135.5, 11.3, 19.0, 55.4, 270.3, 3.2), (423.9, 27.7, 58.3, 72.6, 353.8, 4.2)],
    "0.6.1": [(26.4, 10.9, 11.7, 84.0, 409.7, 5.2), (43.1, 26.2, 27.2, 149.8, 730.5, 8.9)],
    "0.7.4": [(133.4, 11.4, 19.0, 53.5, 260.6, 3.3), (489.5, 26.8, 56.3, 67.9, 331.2, 3.7)],
    "0.8.1": [(130.8, 11.4, 18.9, 51.1, 249.0, 3.2), (422.0, 35.3, 57.5, 67.6, 329.6, 4.2)],
}


@pytest.mark.parametrize("fmt", ["auto", "guidellm"])
@pytest.mark.parametrize("version", sorted(GUIDELLM_PRINTED))
def test_guidellm_releases_agree_with_what_guidellm_printed(tmp_path, version, fmt):
    batches = from_fixture(tmp_path, f"real/guidellm-{version}.json", fmt)
    assert len(batches) == 2
    for m, (ttft, itl, tpot, output, total, rps) in zip(batches, GUIDELLM_PRINTED[version]):
        assert m["p50_ttft"] * 1000 == pytest.approx(ttft, abs=0.051)
        assert m["p50_itl"] * 1000 == pytest.approx(itl, abs=0.051)
        assert m["p50_tpot"] * 1000 == pytest.approx(tpot, abs=0.051)
        assert m["mean_output_throughput"] == pytest.approx(output, abs=0.051)
        assert m["mean_total_throughput"] == pytest.approx(total, abs=0.051)
        assert m["request_throughput"] == pytest.approx(rps, abs=0.0051 if version == "0.3.1" else 0.051)
        assert m["mean_e2e_latency"] > m["mean_ttft"] > 0


def test_real_sglang_release_without_total_throughput(tmp_path):
    """sglang 0.4.6 saves input and output throughput only; its printed total is their sum."""
    [m] = from_fixture(tmp_path, "real/sglang-0.4.6.jsonl")
    assert m["max_concurrency"] == 4 and math.isinf(m["request_rate"])
    assert m["mean_total_throughput"] == pytest.approx(482.18, abs=0.006)
    assert m["mean_output_throughput"] == pytest.approx(160.73, abs=0.006)
    assert m["p50_ttft"] * 1000 == pytest.approx(29.65, abs=0.006)
    assert m["p99_itl"] * 1000 == pytest.approx(28.75, abs=0.006)


def test_a_benchmark_with_no_completed_request_fails_instead_of_scoring_zeros(tmp_path):
    """guidellm, vLLM and SGLang report all-zero latencies when every request failed: a latency study
    would take that configuration as its best."""
    with pytest.raises(MetricsError, match="benchmark 1 of 1 completed no requests"):
        from_fixture(tmp_path, "real/guidellm-0.7.4-all-errored.json")
    zeros = {k: (0.0 if isinstance(v, float) else v) for k, v in VLLM.items()}
    with pytest.raises(MetricsError, match="completed no requests"):
        convert({**zeros, "completed": 0}, "auto")
    with pytest.raises(MetricsError, match="completed no requests"):
        convert({**SGLANG, "completed": 0}, "sglang")
    record = json.loads(next(FIXTURES.glob("real/genai-bench-0.0.5/*concurrency_4_*.json")).read_text())
    record["aggregated_metrics"]["num_completed_requests"] = 0
    with pytest.raises(MetricsError, match="concurrency 4 completed no requests"):
        convert(record, "genai-bench")


def test_batch_slo_filtering_on_real_genai_bench_files(tmp_path):
    from autotune.objective import evaluate, parse_objective, parse_slo
    batches = from_fixture(tmp_path, GENAI_BENCH)
    slo = parse_slo({"ttft": {"threshold": 0.6, "hard_fail": True, "fail_ratio": 0.1}})
    out = evaluate([batches], parse_objective("throughput"), slo)
    # concurrency 1 misses the TTFT limit by 24%: dropped, so the score is concurrency 4's alone
    assert out.status == "completed" and out.value == pytest.approx(310.4276, abs=1e-4)


def test_a_record_of_the_wrong_shape_is_a_failed_trial_not_a_crash():
    with pytest.raises(MetricsError, match="guidellm"):
        convert({"benchmarks": [{"metrics": {"request_latency": {"successful": {"percentiles": [1]}}}}]}, "auto")


def test_a_missing_objective_metric_is_an_error_never_a_zero(tmp_path):
    from autotune.objective import evaluate, parse_objective, parse_slo
    [batch] = from_fixture(tmp_path, "sglang.jsonl")
    out = evaluate([[batch]], parse_objective({"metric": "latency", "stat": "p50"}), parse_slo(None))
    assert out.status == "completed"
    del batch["p50_e2e_latency"]
    out = evaluate([[batch]], parse_objective({"metric": "latency", "stat": "p50"}), parse_slo(None))
    assert out.status == "failed" and out.value is None and "p50_e2e_latency" in out.error
