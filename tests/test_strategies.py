"""Grid, random and tpe through the Python API: the space is respected, nothing repeats, state round-trips."""
import json
from pathlib import Path

import numpy as np
import pytest

import autotune
from autotune import STRATEGIES, Space, create_strategy, restore_strategy

MIXED = {
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "mem": {"type": "float", "low": 0.7, "high": 0.95, "step": 0.05},
    "seqs": {"type": "int", "low": 16, "high": 1024, "log": True},
    "chunk": {"type": "int", "low": 64, "high": 512, "step": 64},
    "policy": ["lpm", "fcfs", "random"],
    "flag": [True, False],
}
DISCRETE = {"a": [1, 2, 3], "b": ["x", "y"], "c": {"type": "int", "low": 0, "high": 3}}  # 24 configurations


def drive(strategy, n, objective=lambda p: 0.0):
    seen = []
    for _ in range(n):
        params = strategy.ask()
        if params is None:
            break
        seen.append(params)
        strategy.tell(params, objective(params))
    return seen


def test_the_python_api_is_exported():
    assert {"Space", "create_strategy", "restore_strategy"} <= set(autotune.__all__)


def space_for(name):
    """The mixed space, or its discrete cousin for strategies that need a finite one (grid)."""
    return Space.from_spec(DISCRETE if STRATEGIES[name].needs_finite_space else MIXED)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_proposals_lie_in_the_space(name):
    space = space_for(name)
    strategy = create_strategy({"name": name, "seed": 3}, space)
    proposals = drive(strategy, 60, lambda p: float(len(json.dumps(p, sort_keys=True)) % 5))
    assert proposals
    for params in proposals:
        assert space.contains(params), params
        if "seqs" in params:
            assert type(params["seqs"]) is int and type(params["chunk"]) is int and type(params["mem"]) is float
            assert 1e-4 <= params["lr"] <= 1.0 and params["chunk"] % 64 == 0
            assert round((params["mem"] - 0.7) / 0.05, 9) == int(round((params["mem"] - 0.7) / 0.05))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_status_can_be_told(name):
    space = space_for(name)
    strategy = create_strategy({"name": name, "seed": 5}, space)
    statuses = [("completed", 1.0, None), ("failed", None, None), ("infeasible", None, None), ("pruned", 2.0, 3)]
    for i in range(24):
        params = strategy.ask()
        if params is None:
            break
        status, score, step = statuses[i % 4]
        strategy.tell(params, score, status, step=step)
    after = strategy.ask()
    assert space.contains(after) if after is not None else strategy.exhausted


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_state_is_small_and_does_not_grow_with_the_history(name):
    space = space_for(name)
    strategy = create_strategy({"name": name, "seed": 2}, space)
    drive(strategy, 5, lambda p: float(len(json.dumps(p)) % 3))
    early = len(json.dumps(strategy.state()))
    drive(strategy, 18, lambda p: float(len(json.dumps(p)) % 3))
    late = len(json.dumps(strategy.state()))
    assert late < 4096 and abs(late - early) < 64, (early, late)


def test_grid_walks_the_product_in_order_then_stops():
    space = Space.from_spec({"a": [1, 2], "b": ["x", "y", "z"]})
    seen = drive(create_strategy("grid", space), 100)
    assert seen == [{"a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")]


def test_grid_subset_is_spread_out_not_the_first_n():
    space = Space.from_spec({"a": [1, 2, 3, 4, 5], "b": [10, 20, 30, 40, 50]})
    subset = drive(create_strategy("grid", space, max_trials=5), 5)
    assert len({json.dumps(p, sort_keys=True) for p in subset}) == 5
    assert {p["a"] for p in subset} >= {1, 3, 5} and {p["b"] for p in subset} >= {10, 30, 50}
    assert subset[0] == {"a": 3, "b": 30}  # from the centre


def test_grid_subset_continues_over_the_whole_grid():
    space = Space.from_spec(DISCRETE)
    seen = drive(create_strategy("grid", space, max_trials=5), 100)
    assert len(seen) == 24 and len({json.dumps(p, sort_keys=True) for p in seen}) == 24


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_no_repeats_in_a_discrete_space_until_exhausted(name):
    space = Space.from_spec(DISCRETE)
    for seed in range(3):
        seen = drive(create_strategy({"name": name, "seed": seed}, space), 100, lambda p: p["a"] + p["c"])
        keys = [json.dumps(p, sort_keys=True) for p in seen]
        assert len(keys) == 24 and len(set(keys)) == 24
        assert create_strategy({"name": name, "seed": seed}, space).ask() is not None


def test_random_never_gives_up_on_a_nearly_exhausted_large_space():
    space = Space.from_spec({"n": {"type": "int", "low": 1, "high": 2000}})
    seen = drive(create_strategy({"name": "random", "seed": 0}, space), 2100)
    assert sorted(p["n"] for p in seen) == list(range(1, 2001))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("running", [0, 1, 3])
def test_restored_from_state_and_history_it_proposes_the_same(name, running):
    """restore_strategy(state, space, history) continues exactly as the original, with trials that were
    still running (asked, not told) when the state was taken."""
    space = space_for(name)
    objective = lambda p: float(len(json.dumps(p, sort_keys=True)) % 7)  # noqa: E731
    original = create_strategy({"name": name, "seed": 11}, space, max_trials=10)
    history = []
    for i in range(15):
        params = original.ask()
        status = ("completed", "failed", "infeasible")[i % 3] if i % 4 else "completed"
        score = objective(params) if status == "completed" else None
        original.tell(params, score, status)
        history.append({"params": params, "score": score, "status": status})
    pending = [original.ask() for _ in range(running)]
    state = json.loads(json.dumps(original.state()))
    restored = restore_strategy(state, space, history=history + [{"params": p, "status": "running"}
                                                                  for p in pending])
    for p in pending:
        original.tell(p, 1.0)
        restored.tell(p, 1.0)
    assert drive(original, 12, objective) == drive(restored, 12, objective)


def test_a_format_1_state_carries_its_own_history():
    """States saved by the first release held their observations; restoring one needs no history."""
    legacy = json.loads((Path(__file__).parent / "fixtures" / "strategy_state_v1_tpe.json").read_text())
    space = Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0}, "c": ["a", "b"]})
    strategy = restore_strategy(legacy, space)
    proposals = drive(strategy, 5, lambda p: (p["x"] - 0.3) ** 2)
    assert len(proposals) == 5 and all(space.contains(p) for p in proposals)


def test_tpe_beats_random_on_a_simple_function():
    space = Space.from_spec({"x": {"type": "float", "low": -5, "high": 5}, "y": {"type": "float", "low": -5, "high": 5},
                             "c": ["a", "b", "c"]})

    def f(p):
        return (p["x"] - 1.3) ** 2 + (p["y"] + 2.1) ** 2 + {"a": 1.0, "b": 0.0, "c": 2.0}[p["c"]]

    def best(name, seed):
        return min(f(p) for p in drive(create_strategy({"name": name, "seed": seed}, space), 60, f))

    tpe = [best("tpe", s) for s in range(6)]
    rnd = [best("random", s) for s in range(6)]
    assert np.median(tpe) < np.median(rnd)
    assert sum(t < r for t, r in zip(tpe, rnd)) >= 4


@pytest.mark.parametrize("seed", range(4))
def test_tpe_learns_infeasible_as_the_worst(seed):
    space = Space.from_spec({"x": {"type": "float", "low": 0, "high": 1}})
    strategy = create_strategy({"name": "tpe", "seed": seed, "n_startup_trials": 5}, space)
    proposals = []
    for _ in range(40):
        p = strategy.ask()
        proposals.append(p["x"])
        strategy.tell(p, None, "infeasible") if p["x"] > 0.5 else strategy.tell(p, p["x"])
    assert sum(x > 0.5 for x in proposals[-20:]) <= 5  # random search would put about 10 there


def test_tpe_recombines_parameters_once_trials_were_pruned():
    """Early stopping leaves the good group to the fastest starters; tpe then chooses each parameter on its
    own, so it also tries the good values of one parameter with the good values of another."""
    space = Space.from_spec({"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "float", "low": 0, "high": 1}})
    good = [(c + d, c + e) for c in (0.1, 0.8) for d, e in ((0, 0), (0.05, 0.02), (0.02, 0.07))]
    # The rest crowd the good x of one group and the good y of the other: x near 0.1 and y near 0.8 are
    # each clear of them, a combination that no good trial has.
    rest = [(x, y) for x in np.linspace(0.75, 0.95, 4) for y in np.linspace(0.02, 0.25, 6)]

    def off_diagonal(rest_status):
        count = 0
        for seed in range(12):
            strategy = create_strategy({"name": "tpe", "seed": seed, "n_startup_trials": 5, "gamma": 0.2}, space)
            for i, (x, y) in enumerate(good):
                strategy.tell({"x": x, "y": y}, 0.1 * i)
            for x, y in rest:
                strategy.tell({"x": x, "y": y}, 5.0, rest_status, 1 if rest_status == "pruned" else None)
            p = strategy.ask()
            count += p["x"] < 0.3 and p["y"] > 0.6
        return count

    assert off_diagonal("completed") <= 2  # the joint model stays on the good trials' combinations
    assert off_diagonal("pruned") >= 9


def test_tpe_constant_liar_spreads_parallel_asks():
    space = Space.from_spec({"x": {"type": "float", "low": 0, "high": 1}})
    strategy = create_strategy({"name": "tpe", "seed": 1, "n_startup_trials": 5}, space)
    drive(strategy, 20, lambda p: (p["x"] - 0.5) ** 2)
    batch = [strategy.ask() for _ in range(4)]
    assert len({round(p["x"], 6) for p in batch}) == 4


def test_tell_rejects_a_completed_trial_without_a_score():
    strategy = create_strategy("random", Space.from_spec({"a": [1, 2]}))
    with pytest.raises(ValueError):
        strategy.tell(strategy.ask(), None, "completed")
    with pytest.raises(ValueError):
        strategy.tell({"a": 1}, 1.0, "exploded")


def test_seed_alias_n_initial_random():
    strategy = create_strategy({"name": "bayesian", "n_initial_random": 3}, Space.from_spec({"a": [1, 2]}))
    assert strategy.name == "tpe" and strategy.n_startup_trials == 3


@pytest.mark.parametrize("spec", [{f"p{i}": list(range(100)) for i in range(12)},
                                  {f"f{i}": {"type": "float", "low": 0, "high": 1, "step": 0.001} for i in range(10)}])
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_spaces_too_large_for_64_bit_indices(name, spec):
    """12 parameters of 100 values hold 1e24 configurations; any size must work."""
    space = Space.from_spec(spec)
    strategy = create_strategy({"name": name, "seed": 0}, space, max_trials=6)
    proposals = drive(strategy, 6, lambda p: sum(v for v in p.values()))
    assert len(proposals) == 6 and all(space.contains(p) for p in proposals)
    assert len({json.dumps(p, sort_keys=True) for p in proposals}) == 6
