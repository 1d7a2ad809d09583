"""The contract for conditional spaces and several objectives, over every registered strategy: a strategy
that says it takes them proposes only active parameters, never repeats, takes lists of scores and
restores from state and history; one that does not is refused by name. Then the model strategies'
behaviour: they learn a conditional parameter from the trials that had it, and with several objectives
find a better front than random search (gp reaching both ends of it)."""
import json

import numpy as np
import pytest

from autotune import STRATEGIES, Space, create_strategy, restore_strategy
from autotune.errors import SpecError
from autotune.pareto import hypervolume, nondominated
from autotune.strategies import check_fits
from autotune.strategies.base import Strategy

CONDITIONAL = {
    "spec": [True, False],
    "tokens": {"type": "int", "low": 1, "high": 8, "when": {"spec": True}},
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "sched": ["a", "b", "c"],
    "knob": {"type": "float", "low": 0.0, "high": 1.0, "when": {"sched": ["b", "c"]}},
}
CONDITIONAL_FINITE = {  # 2 x (4 + 1) x ... = (4 + 1) x (1 + 2 x 3) x 2 = 70 configurations
    "spec": [True, False],
    "tokens": {"type": "int", "low": 1, "high": 4, "when": {"spec": True}},
    "sched": ["a", "b", "c"],
    "knob": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.5, "when": {"sched": ["b", "c"]}},
    "m": [1, 2],
}


BLIND = ("grid", "random")  # the strategies that never read scores


def conditional_space(name):
    return Space.from_spec(CONDITIONAL_FINITE if STRATEGIES[name].needs_finite_space else CONDITIONAL)


def scores(params):
    """Two objectives in tension, both depending on conditional parameters."""
    a = (np.log10(params.get("lr", 0.01)) + 2) ** 2 + params.get("tokens", 4) / 8 + params.get("knob", 0.5)
    b = 1 - params.get("knob", 0.5) + (0.0 if params["spec"] else 0.7) + 0.1 * params.get("m", 1)
    return [float(a), float(b)]


def drive(strategy, n, score=scores, several=True):
    seen = []
    for i in range(n):
        params = strategy.ask()
        if params is None:
            break
        seen.append(params)
        status = "infeasible" if i % 7 == 3 else "failed" if i % 11 == 5 else "completed"
        value = (score(params) if several else score(params)[0]) if status == "completed" else None
        strategy.tell(params, value, status)
    return seen


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_conditional_spaces_get_only_active_parameters_or_a_refusal(name):
    cls = STRATEGIES[name]
    space = conditional_space(name)
    if not cls.conditional:
        with pytest.raises(SpecError, match=f"the {name} strategy does not take conditional parameters"):
            check_fits(cls, space)
        return
    for seed in range(3):
        proposals = drive(create_strategy({"name": name, "seed": seed}, space), 80, several=False)
        assert proposals and all(space.contains(p) for p in proposals)
        assert any("tokens" in p for p in proposals) and any("tokens" not in p for p in proposals)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_finite_conditional_space_is_exhausted_without_repeats(name):
    cls = STRATEGIES[name]
    if not cls.conditional:
        return  # refused at validation (the test above)
    space = Space.from_spec(CONDITIONAL_FINITE)
    assert space.size == 70
    proposals = drive(create_strategy({"name": name, "seed": 1}, space, max_trials=20), 200)
    keys = [json.dumps(p, sort_keys=True) for p in proposals]
    assert len(keys) == 70 and len(set(keys)) == 70 and all(space.contains(p) for p in proposals)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_several_objectives_are_taken_as_a_list_or_refused(name):
    cls = STRATEGIES[name]
    space = Space.from_spec({"x": {"type": "float", "low": 0, "high": 1, "step": 0.1}, "c": ["a", "b"]})
    if not cls.multi_objective:
        with pytest.raises(SpecError, match=f"the {name} strategy does not take several objectives"):
            check_fits(cls, space, objectives=2)
        strategy = create_strategy({"name": name, "seed": 0}, space)
        with pytest.raises(ValueError):
            strategy.tell(strategy.ask(), [1.0, 2.0])
        return
    strategy = create_strategy({"name": name, "seed": 0}, space)
    proposals = drive(strategy, 22, lambda p: [p["x"], 1 - p["x"] + (p["c"] == "a")])
    assert len(proposals) == 22 and all(space.contains(p) for p in proposals)
    with pytest.raises(ValueError):
        strategy.tell(strategy.ask(), [1.0])  # a list holds a score per objective: two or more
    with pytest.raises(ValueError, match="every trial needs 2 score"):
        strategy.tell(strategy.ask(), 1.0)
    with pytest.raises(ValueError, match="every trial needs 2 score"):
        strategy.tell(strategy.ask(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", sorted(n for n, cls in STRATEGIES.items() if cls.multi_objective))
def test_several_objectives_after_infeasible_first_trials(name):
    """A study's first trials can miss a hard SLO before any is scored: nothing says yet that the
    scores will be lists. (tpe failed on the first ask from its model.)"""
    space = Space.from_spec({"x": {"type": "float", "low": 0, "high": 1, "step": 0.01}, "c": ["a", "b"]})
    strategy = create_strategy({"name": name, "seed": 0}, space, max_trials=30, objectives=2)
    for _ in range(3):
        strategy.tell(strategy.ask(), None, "infeasible")
    proposals = drive(strategy, 25, lambda p: [p["x"], 1 - p["x"] + (p["c"] == "a")])
    assert len(proposals) == 25 and all(space.contains(p) for p in proposals)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("running", [0, 2])
def test_restored_with_a_conditional_space_and_several_objectives_it_proposes_the_same(name, running):
    cls = STRATEGIES[name]
    if not (cls.conditional and cls.multi_objective):
        return  # refused at validation (the tests above)
    space = conditional_space(name)
    original = create_strategy({"name": name, "seed": 5, **({"n_startup_trials": 4} if name == "tpe" else {})},
                               space, max_trials=30)
    history = []
    for i in range(16):
        params = original.ask()
        status = "infeasible" if i % 5 == 2 else "completed"
        score = scores(params) if status == "completed" else None
        original.tell(params, score, status)
        history.append({"params": params, "score": score, "status": status})
    pending = [original.ask() for _ in range(running)]
    state = json.loads(json.dumps(original.state()))
    restored = restore_strategy(state, space, history=json.loads(json.dumps(history)) +
                                [{"params": p, "status": "running"} for p in pending])
    for p in pending:
        original.tell(p, scores(p))
        restored.tell(p, scores(p))
    assert drive(original, 10) == drive(restored, 10)


def test_a_strategy_that_declares_neither_is_refused_by_name():
    class Plain(Strategy):
        name = "plain"

    with pytest.raises(SpecError, match="the plain strategy does not take conditional parameters"):
        check_fits(Plain, Space.from_spec(CONDITIONAL))
    with pytest.raises(SpecError, match=r"does not take several objectives; use one of .*tpe"):
        check_fits(Plain, Space.from_spec({"a": [1, 2]}), objectives=3)
    check_fits(Plain, Space.from_spec({"a": [1, 2]}))  # one objective, no conditions: fine


@pytest.mark.parametrize("name", ["tpe", "gp"])
@pytest.mark.parametrize("seed", range(4))
def test_model_strategies_learn_a_conditional_parameter_from_the_trials_that_had_it(name, seed):
    """tokens matters only when spec is on, best at 6; trials with spec off say nothing about it."""
    space = Space.from_spec({"spec": [True, False], "tokens": {"type": "int", "low": 1, "high": 8,
                                                               "when": {"spec": True}},
                             "x": {"type": "float", "low": 0, "high": 1}})
    strategy = create_strategy({"name": name, "seed": seed, "n_startup_trials": 8}, space)
    proposals = []
    for _ in range(50):
        p = strategy.ask()
        proposals.append(p)
        strategy.tell(p, (abs(p["tokens"] - 6) if p["spec"] else 3.5) + (p["x"] - 0.5) ** 2)
    late = [p["tokens"] for p in proposals[25:] if p["spec"]]
    assert len(late) >= 15 and np.mean([abs(t - 6) <= 1 for t in late]) >= 0.6  # random: 3 of 8 values


def zdt1_in_6(p):
    x = [p[f"x{i}"] for i in range(6)]
    g = 1 + 9 * sum(x[1:]) / 5
    return [x[0], g * (1 - (x[0] / g) ** 0.5)]


def front_after(name, seed, trials=60):
    """The front a strategy finds on ZDT1 in 6 variables."""
    space = Space.from_spec({f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(6)})
    strategy, points = create_strategy({"name": name, "seed": seed}, space, max_trials=trials, objectives=2), []
    for _ in range(trials):
        p = strategy.ask()
        points.append(zdt1_in_6(p))
        strategy.tell(p, points[-1])
    return np.array(points)[nondominated(points)]


@pytest.mark.parametrize("name", ["tpe", "gp"])
def test_model_strategies_find_a_better_front_than_random_with_several_objectives(name):
    """The hypervolume after 60 trials, over 6 seeds."""
    ours = [hypervolume(front_after(name, s), [11, 11]) for s in range(6)]
    rnd = [hypervolume(front_after("random", s), [11, 11]) for s in range(6)]
    assert np.median(ours) > np.median(rnd) and sum(t > r for t, r in zip(ours, rnd)) >= 5, (ours, rnd)


def test_gp_aims_at_every_part_of_the_front():
    """ParEGO draws the objectives' weights anew for each ask, so the front reaches both ends: the best
    f1 (0 at x0 = 0) and the best f2 (0 at x0 = 1 with the rest 0), each close to its optimum. Weights
    fixed at (1, 0), (0, 1) or (0.5, 0.5) miss one end or the other."""
    for seed in range(4):
        front = front_after("gp", seed, trials=50)
        assert front[:, 0].min() < 0.01 and front[:, 1].min() < 0.2, (seed, front.min(axis=0))


@pytest.mark.parametrize("name", sorted(n for n, cls in STRATEGIES.items() if cls.multi_objective and n not in BLIND))
def test_several_objectives_survive_an_infinite_score_and_a_pruned_trial(name):
    """Through the Python API: an overflowing penalty gives inf, and early stopping's `pruned` may come with
    a list of scores. Neither may stop a model strategy or blind it (gp's scaling of inf gave NaN, and its
    proposals were random from then on)."""
    space = Space.from_spec({f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(6)})
    strategy, points = create_strategy({"name": name, "seed": 0}, space, max_trials=60, objectives=2), []
    for i in range(60):
        p = strategy.ask()
        if i == 5:  # among the first trials, so every model ask sees it
            strategy.tell(p, [float("inf"), 3.0])
        elif i == 20:
            strategy.tell(p, [1.0, 1.0], "pruned", 1)
        else:
            points.append(zdt1_in_6(p))
            strategy.tell(p, points[-1])
    volume = hypervolume(np.array(points)[nondominated(points)], [11, 11])
    assert volume > max(hypervolume(front_after("random", s), [11, 11]) for s in range(3))
