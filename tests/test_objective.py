"""Objective shortcuts and SLO scoring against hand-computed values."""
import math

import pytest

from autotune.errors import SpecError
from autotune.objective import evaluate, parse_objective, parse_slo


def one(metrics):
    return [[metrics]]


def test_minimize_latency_with_a_soft_ttft_penalty():
    objective = parse_objective("latency")
    slo = parse_slo({"steepness": 0.1, "ttft": {"threshold": 1.0, "weight": 2.0}})
    out = evaluate(one({"mean_e2e_latency": 2.0, "mean_ttft": 1.05}), objective, slo)
    # r = 0.05; P = 2 * (e^0.5 - 1) = 1.2974425414; score = 2 + P * 2
    assert out.status == "completed" and out.value == 2.0
    assert out.score == pytest.approx(4.5948850828, rel=1e-9)


def test_maximize_throughput_without_and_with_penalty():
    objective = parse_objective("maximize_throughput")
    slo = parse_slo({"ttft": {"threshold": 1.0}})
    clean = evaluate(one({"mean_total_throughput": 100.0, "mean_ttft": 0.5}), objective, slo)
    assert clean.score == -100.0
    # r = 0.1, steepness 0.1, weight 1: P = e - 1; score = -100 + (e - 1) * 100
    late = evaluate(one({"mean_total_throughput": 100.0, "mean_ttft": 1.1}), objective, slo)
    assert late.score == pytest.approx(-100 + (math.e - 1) * 100, rel=1e-9)
    assert late.score > clean.score


def test_penalty_is_zero_at_the_threshold():
    slo = parse_slo({"ttft": {"threshold": 1.0}})
    out = evaluate(one({"mean_total_throughput": 50.0, "mean_ttft": 1.0}), parse_objective("throughput"), slo)
    assert out.score == -50.0


def test_hard_fail_past_fail_ratio_is_infeasible():
    slo = parse_slo({"latency": {"p90": {"threshold": 5.0, "weight": 2.0, "hard_fail": True, "fail_ratio": 0.2}}})
    objective = parse_objective({"metric": "latency", "stat": "p90"})
    out = evaluate(one({"p90_e2e_latency": 6.5}), objective, slo)
    assert out.status == "infeasible" and out.score is None and out.value == 6.5
    assert "p90_e2e_latency" in out.error


def test_hard_fail_within_fail_ratio_still_pays_the_penalty():
    slo = parse_slo({"latency": {"p90": {"threshold": 5.0, "weight": 2.0, "hard_fail": True, "fail_ratio": 0.2}}})
    out = evaluate(one({"mean_e2e_latency": 3.0, "p90_e2e_latency": 5.5}), parse_objective("latency"), slo)
    # r = 0.1: P = 2 * (e - 1); score = 3 + P * 3
    assert out.status == "completed"
    assert out.score == pytest.approx(3 + 2 * (math.e - 1) * 3, rel=1e-9)


def test_default_fail_ratio_is_one_half():
    slo = parse_slo({"ttft": {"threshold": 1.0, "hard_fail": True}})
    objective = parse_objective("throughput")
    assert evaluate(one({"mean_total_throughput": 1.0, "mean_ttft": 1.5}), objective, slo).status == "completed"
    assert evaluate(one({"mean_total_throughput": 1.0, "mean_ttft": 1.51}), objective, slo).status == "infeasible"


def test_throughput_falls_back_per_gpu_then_total_then_output():
    objective = parse_objective("throughput")
    assert objective.value({"mean_output_throughput": 3.0})[1] == 3.0
    assert objective.value({"mean_output_throughput": 3.0, "mean_total_throughput": 5.0})[1] == 5.0
    assert objective.value({"mean_total_throughput": 5.0, "mean_total_throughput_per_gpu": 2.5})[1] == 2.5


ALL = {name: float(i) for i, name in enumerate(["mean_e2e_latency", "p99_e2e_latency", "mean_ttft", "p50_tpot",
                                                  "mean_tpot", "eval_loss", "accuracy", "mean_total_throughput"])}


@pytest.mark.parametrize("spec,reads,direction", [
    ("latency", "mean_e2e_latency", "minimize"),
    ({"metric": "latency", "stat": "p99"}, "p99_e2e_latency", "minimize"),
    ("ttft", "mean_ttft", "minimize"),
    ({"metric": "tpot", "stat": "p50"}, "p50_tpot", "minimize"),
    ("eval_loss", "eval_loss", "minimize"),
    ("minimize_tpot", "mean_tpot", "minimize"),
    ("throughput", "mean_total_throughput", "maximize"),
    ({"metric": "accuracy", "direction": "maximize"}, "accuracy", "maximize"),
])
def test_shortcuts(spec, reads, direction):
    objective = parse_objective(spec)
    assert objective.value(ALL) == (reads, ALL[reads]) and objective.direction == direction


@pytest.mark.parametrize("spec", ["throughput", "latency", {"metric": "throughput"}])
def test_a_metric_under_the_very_name_wins_over_the_shortcut(spec):
    """A program printing {"throughput": ...} means that by `objective: throughput`."""
    name = spec if isinstance(spec, str) else spec["metric"]
    objective = parse_objective(spec)
    assert objective.value({**ALL, name: 42.0}) == (name, 42.0)


@pytest.mark.parametrize("metrics,reason", [
    ({"other": 1.0}, "missing"),
    ({"eval_loss": float("nan")}, "not a finite number"),
    ({"eval_loss": float("inf")}, "not a finite number"),
])
def test_missing_or_non_finite_objective_fails_the_trial(metrics, reason):
    out = evaluate(one(metrics), parse_objective("eval_loss"), parse_slo(None))
    assert out.status == "failed" and out.score is None and reason in out.error


def test_missing_slo_metric_fails_the_trial():
    out = evaluate(one({"eval_loss": 1.0}), parse_objective("eval_loss"), parse_slo({"ttft": {"threshold": 1}}))
    assert out.status == "failed" and "mean_ttft" in out.error


def test_repeats_take_the_median_and_keep_every_run():
    runs = [[{"eval_loss": v, "other": i}] for i, v in enumerate([3.0, 1.0, 2.0])]
    out = evaluate(runs, parse_objective("eval_loss"), parse_slo(None))
    assert out.value == 2.0 and out.metrics == {"eval_loss": 2.0, "other": 1}
    assert [r["eval_loss"] for r in out.runs] == [3.0, 1.0, 2.0]


def test_batches_that_hard_fail_are_dropped_then_the_rest_averaged():
    slo = parse_slo({"ttft": {"threshold": 1.0, "hard_fail": True, "fail_ratio": 0.1}})
    batches = [{"mean_total_throughput": 10.0, "mean_ttft": 0.5},
               {"mean_total_throughput": 20.0, "mean_ttft": 0.9},
               {"mean_total_throughput": 90.0, "mean_ttft": 3.0}]
    out = evaluate([batches], parse_objective("throughput"), slo)
    assert out.status == "completed" and out.value == 15.0 and out.metrics["mean_ttft"] == pytest.approx(0.7)


def test_when_every_batch_hard_fails_all_are_averaged_and_the_trial_is_infeasible():
    slo = parse_slo({"ttft": {"threshold": 1.0, "hard_fail": True, "fail_ratio": 0.1}})
    batches = [{"mean_total_throughput": 10.0, "mean_ttft": 2.0}, {"mean_total_throughput": 30.0, "mean_ttft": 4.0}]
    out = evaluate([batches], parse_objective("throughput"), slo)
    assert out.status == "infeasible" and out.value == 20.0


def test_a_huge_miss_gives_a_finite_score():
    slo = parse_slo({"ttft": {"threshold": 0.001}})
    out = evaluate(one({"eval_loss": 1.0, "mean_ttft": 1000.0}), parse_objective("eval_loss"), slo)
    assert math.isfinite(out.score)


def test_an_slo_on_any_metric_by_its_name():
    slo = parse_slo({"gpu_memory_gb": {"threshold": 70, "direction": "minimize", "weight": 1.0},
                     "mean_output_throughput": {"threshold": 100, "hard_fail": True, "fail_ratio": 0.5}})
    objective = parse_objective("latency")
    ok = evaluate([[{"mean_e2e_latency": 1.0, "gpu_memory_gb": 60.0, "mean_output_throughput": 150.0}]], objective, slo)
    assert ok.status == "completed" and ok.score == 1.0
    over = evaluate([[{"mean_e2e_latency": 1.0, "gpu_memory_gb": 77.0, "mean_output_throughput": 150.0}]],
                    objective, slo)
    assert over.score == pytest.approx(1.0 + (math.exp(0.1 / 0.1) - 1.0))  # 10% over the ceiling
    floor = evaluate([[{"mean_e2e_latency": 1.0, "gpu_memory_gb": 60.0, "mean_output_throughput": 40.0}]],
                     objective, slo)
    assert floor.status == "infeasible"  # a throughput is a floor: 60% under it, past fail_ratio
    assert "mean_output_throughput 40 < 100 (2.5x)" in floor.error


def test_an_slo_on_an_unknown_metric_needs_its_direction():
    with pytest.raises(SpecError) as caught:
        parse_slo({"p90_latency": {"threshold": 5}})
    assert caught.value.path == "slo.p90_latency" and "direction" in caught.value.message
    assert "did you mean 'p90_e2e_latency'" in caught.value.message


def test_a_missing_objective_metric_names_what_the_trial_reported_and_where():
    outcome = evaluate([[{"tok_s": 5.0, "ttft_ms": 3.0}]], parse_objective("throughput"), parse_slo(None),
                       sources=["the last JSON line of stdout"])
    assert outcome.status == "failed"
    assert "the trial reported tok_s, ttft_ms, read from the last JSON line of stdout" in outcome.error
