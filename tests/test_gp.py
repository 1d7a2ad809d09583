"""gp and auto: the model's numbers against hand computation, the acquisition's search, failures, huge
scores, and auto's recorded choice. The contract tests in test_strategies.py run over both as well."""
import json
import math

import numpy as np
import pytest

from autotune import Space, create_strategy, restore_strategy
from autotune.strategies import gp_model
from autotune.strategies.gp import LOCAL_RADIUS, Encoder, Region, unit_range, warp
from autotune.strategies.local_search import local_step

LINE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


def matern(r):
    return (1 + math.sqrt(5) * r + 5 / 3 * r * r) * math.exp(-math.sqrt(5) * r)


def test_posterior_matches_hand_computation_on_two_points():
    """Two observations in 1-D: the posterior mean and variance at a third point, by the textbook
    formulas written out for a 2x2 kernel matrix."""
    X = np.array([[0.0], [1.0]])
    ys = np.array([1.0, -1.0])  # mean 0, so the centred targets are the targets
    ell, signal, noise = 0.5, 2.0, 0.01
    K = np.array([[signal + noise + gp_model.JITTER, signal * matern(2.0)],
                  [signal * matern(2.0), signal + noise + gp_model.JITTER]])
    K_inv = np.linalg.inv(K)
    model = gp_model.GP(X, ys, 0.0, np.array([ell]), signal, noise, K_inv @ ys, K_inv)
    mu, var = model.posterior(np.array([[0.25]]))
    k = np.array([signal * matern(0.25 / ell), signal * matern(0.75 / ell)])
    det = K[0, 0] * K[1, 1] - K[0, 1] ** 2
    inv = np.array([[K[1, 1], -K[0, 1]], [-K[0, 1], K[0, 0]]]) / det
    assert mu[0] == pytest.approx(k @ inv @ ys, rel=1e-9)
    assert var[0] == pytest.approx(signal - k @ inv @ k, rel=1e-9)
    assert mu[0] > 0  # nearer the observation of +1
    # the kernel as the model computes it: k(0) = 1, k(1) = (1 + sqrt 5 + 5/3) exp(-sqrt 5)
    assert gp_model.matern52(np.array([0.0, 1.0])) == pytest.approx([1.0, 0.5239941088318203], rel=1e-12)


def test_marginal_likelihood_and_its_gradient():
    """The negative log marginal likelihood of a 2-point model against its closed form, and the
    analytic gradient against central differences."""
    rng = np.random.default_rng(0)
    X, y = rng.random((7, 3)), rng.normal(size=7)
    diffs = (X.T[:, :, None] - X.T[:, None, :]) ** 2
    theta = np.array([-0.3, 0.2, 0.5, 0.1, math.log(0.05)])
    value, grad = gp_model.negative_log_posterior(theta, diffs, y)
    ell, signal, noise = np.exp(theta[:3]), math.exp(theta[3]), math.exp(theta[4])
    K = np.array([[signal * matern(math.sqrt((((a - b) / ell) ** 2).sum())) for b in X] for a in X])
    K += (noise + gp_model.JITTER) * np.eye(7)
    nll = 0.5 * y @ np.linalg.solve(K, y) + 0.5 * np.linalg.slogdet(K)[1] + 3.5 * math.log(2 * math.pi)
    assert value == pytest.approx(nll - gp_model.log_prior(theta)[0], rel=1e-9)
    for j in range(len(theta)):
        step = np.zeros_like(theta)
        step[j] = 1e-6
        numeric = (gp_model.negative_log_posterior(theta + step, diffs, y)[0]
                   - gp_model.negative_log_posterior(theta - step, diffs, y)[0]) / 2e-6
        assert grad[j] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_log_expected_improvement_against_its_definition():
    from statistics import NormalDist

    normal = NormalDist()
    for z in (-2.5, -1.0, 0.0, 1.5, 4.0):
        assert gp_model.log_h(np.array([z]))[0] == pytest.approx(math.log(normal.pdf(z) + z * normal.cdf(z)), rel=1e-9)
    for z in (-30.0, -12.0, -8.0):  # the direct sum cancels here: the asymptotic series phi(z) / z^2 (1 - 3/z^2 ...)
        series = sum((-1) ** k * math.prod(range(1, 2 * k + 2, 2)) / z ** (2 * k) for k in range(7))
        exact = math.log(normal.pdf(z) / z ** 2) + math.log(series)
        assert gp_model.log_h(np.array([z]))[0] == pytest.approx(exact, rel=1e-6)
    # far in the tail EI underflows, its log keeps ordering points
    assert gp_model.log_h(np.array([-40.0]))[0] > gp_model.log_h(np.array([-41.0]))[0] > -1e4


def test_fitting_recovers_a_short_and_a_long_length_scale():
    """y varies fast along x0 and not at all along x1: the fitted length scales say so."""
    rng = np.random.default_rng(1)
    X = rng.random((40, 2))
    y = np.sin(6 * X[:, 0])
    model = gp_model.fit(X, y)
    assert model.lengthscales[0] < 1.0 < model.lengthscales[1]
    mu, _ = model.posterior(np.array([[0.3, 0.5]]))
    assert mu[0] + model.mean == pytest.approx(math.sin(1.8), abs=0.05)


def test_the_acquisition_search_finds_the_optimum_of_a_fitted_model():
    """A model fitted to a bowl with its minimum at (0.7, 0.2): the search's first candidate lies near
    that minimum (trust region wide open), where the model's mean is lowest."""
    space = Space.from_spec({"a": {"type": "float", "low": 0.0, "high": 1.0},
                             "b": {"type": "float", "low": 0.0, "high": 1.0}})
    strategy = create_strategy({"name": "gp", "seed": 0, "trust_region": False}, space)
    rng = np.random.default_rng(2)
    for _ in range(30):
        a, b = rng.random(2)
        strategy.tell({"a": float(a), "b": float(b)}, (a - 0.7) ** 2 + (b - 0.2) ** 2)
    X, y = strategy.training_data()
    model = gp_model.fit(X, y)
    best = y.min()
    top = strategy._search(model, X, y, best)[0]
    assert abs(top[0] - 0.7) < 0.1 and abs(top[1] - 0.2) < 0.1, top
    grid = np.array([[i / 50, j / 50] for i in range(51) for j in range(51)])
    values = gp_model.log_expected_improvement(model, grid, best)
    assert gp_model.log_expected_improvement(model, top[None], best)[0] >= values.max() - 0.5


def test_gp_finds_a_minimum_quickly():
    space = Space.from_spec({"a": {"type": "float", "low": -5.0, "high": 5.0},
                             "b": {"type": "float", "low": -5.0, "high": 5.0}})
    strategy = create_strategy({"name": "gp", "seed": 3}, space, max_trials=30)
    best = math.inf
    for _ in range(30):
        p = strategy.ask()
        value = (p["a"] - 1.3) ** 2 + (p["b"] + 2.1) ** 2
        strategy.tell(p, value)
        best = min(best, value)
    assert best < 0.05  # random search's median best in 30 trials is about 1


@pytest.mark.parametrize("max_trials, start", [(20, 5), (100, 9), (None, 9), (6, 2)])
def test_gp_starts_with_at_most_a_quarter_of_the_budget(max_trials, start):
    """The start does not learn, the model does: two studies told opposite scores propose the same
    trials while starting, then differ. 6 parameters start with 9 trials, 20 trials of budget with 5."""
    space = Space.from_spec({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)})
    runs = []
    for sign in (1, -1):
        strategy = create_strategy({"name": "gp", "seed": 5}, space, max_trials=max_trials)
        proposals = []
        for _ in range(start + 1):
            p = strategy.ask()
            strategy.tell(p, sign * sum((p[k] - 0.3) ** 2 for k in p))
            proposals.append(p)
        runs.append(proposals)
    assert runs[0][:start] == runs[1][:start]
    assert runs[0][start] != runs[1][start]


def test_a_study_begun_before_the_start_was_capped_resumes_with_its_own_start():
    """A checkpoint of an earlier release has no start size; with 20 trials of 6 parameters that release
    started with 9 trials, and the resumed study goes on with them rather than switch to 5 mid-way. On a
    plateau few trials improve, so the trust region's streaks, learnt again from the history with the
    start it had, show a wrong start too."""
    space = Space.from_spec({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)})

    def plateau(p):
        return round(p["x0"], 1)

    earlier = create_strategy({"name": "gp", "seed": 5, "n_startup_trials": 9}, space, max_trials=20)
    history = []
    for _ in range(7):
        p = earlier.ask()
        earlier.tell(p, plateau(p))
        history.append({"params": p, "score": plateau(p), "status": "completed"})
    state = json.loads(json.dumps(earlier.state()))
    del state["start"], state["options"]["n_startup_trials"]  # as the earlier release wrote it
    restored = restore_strategy(state, space, history=history)
    for _ in range(12):
        p = earlier.ask()
        assert restored.ask() == p
        for strategy in (earlier, restored):
            strategy.tell(p, plateau(p))


def test_local_step_against_hand_computed_steps():
    """Alone, the best point steps along the first axis (back from a bound); with a poised neighbour on
    each axis, against the gradient of the plane through them; a neighbour in line with another adds
    nothing to the model, so the step goes along the axis they leave out; a bound the gradient pushes
    against holds its coordinate."""
    r = 0.1
    assert local_step(np.array([[0.5, 0.5]]), np.array([0.0]), r) == pytest.approx([0.6, 0.5])
    assert local_step(np.array([[1.0, 0.5]]), np.array([0.0]), r) == pytest.approx([0.9, 0.5])
    plane = lambda X: 2 * X[:, 0] + X[:, 1]  # noqa: E731
    X = np.array([[0.5, 0.5], [0.6, 0.5], [0.5, 0.62]])
    assert local_step(X, plane(X), r) == pytest.approx(np.array([0.5, 0.5]) - r * np.array([2.0, 1.0]) / math.sqrt(5))
    far = np.array([[0.5, 0.5], [0.6, 0.5], [0.5, 0.75]])  # beyond twice the radius: not a neighbour
    assert local_step(far, plane(far), r) == pytest.approx([0.5, 0.6])
    in_line = np.array([[0.5, 0.5], [0.55, 0.5], [0.6, 0.5]])
    assert local_step(in_line, np.array([0.0, 1.0, 2.0]), r) == pytest.approx([0.5, 0.6])
    corner = np.array([[0.0, 0.5], [0.1, 0.5], [0.0, 0.6]])
    assert local_step(corner, corner.sum(axis=1), r) == pytest.approx([0.0, 0.4])
    # The latest neighbours make the model: (0.4, 0.5), a step that failed, instead of (0.6, 0.5).
    latest = np.array([[0.5, 0.5], [0.6, 0.5], [0.5, 0.6], [0.4, 0.5]])
    assert local_step(latest, np.array([0.0, 1.0, 1.0, 2.0]), r) == \
        pytest.approx(np.array([0.5, 0.5]) + r * np.array([2.0, -1.0]) / math.sqrt(5))
    # A step that failed lies at twice the halved radius, whatever the rounding (0.1 + 0.2 is above 0.3).
    in_reach = np.array([[0.1, 0.5], [0.1 + 0.2, 0.5]])
    assert local_step(in_reach, np.array([0.0, 1.0]), r) == pytest.approx([0.1, 0.6])
    # A geometry step from a corner that would leave the box either way stays on its edge.
    corner_step = local_step(np.array([[1.0, 0.0], [0.98, 0.02]]), np.array([0.0, 1.0]), 0.03)
    assert corner_step == pytest.approx([1 - 0.03 / math.sqrt(2), 0.0])


def valley(p):
    """A narrow valley across the axes, 100 times steeper across it than along it, lowest at (1, -2)."""
    u, v = (p["a"] - 1 + p["b"] + 2) / math.sqrt(2), (p["a"] - 1 - p["b"] - 2) / math.sqrt(2)
    return u * u + 100 * v * v


PLANE = {"a": {"type": "float", "low": -5.0, "high": 5.0}, "b": {"type": "float", "low": -5.0, "high": 5.0}}


def tail(spec, budget, objective, seed=0, trials=20, first=12):
    """Each proposal from trial `first` on: its distance from the best trial before it (as a share of
    the ranges, which are all 10 long) and whether it measures a configuration again."""
    strategy = create_strategy({"name": "gp", "seed": seed}, Space.from_spec(spec), max_trials=budget)
    told, out = [], []
    for t in range(trials):
        p = strategy.ask()
        if t >= first:
            incumbent = min(told, key=objective)
            out.append((math.dist(list(p.values()), [incumbent[k] for k in p]) / 10, p in told))
        strategy.tell(p, objective(p))
        told.append(p)
    return out


def test_gp_closes_a_continuous_study_with_steps_from_the_best_trial():
    """The last 40% of a budget on two floats: each trial a step from the best one before it, at most
    LOCAL_RADIUS of each range, shorter after steps that did not help, never measuring a configuration
    again (a failed step enters the model; on a plateau, where the model points nowhere, the Gaussian
    process proposes instead). After six halvings the steps start over at full length."""
    shapes = [valley, lambda p: p["a"] + (p["b"] - 1) ** 2, lambda p: math.floor(p["a"]) ** 2 + math.floor(p["b"]) ** 2,
              lambda p: 1.0]
    for objective in shapes:
        for seed in range(4):
            steps = tail(PLANE, 20, objective, seed)
            assert not any(again for _, again in steps), (seed, steps)
            if objective is valley:
                assert all(0 < distance <= LOCAL_RADIUS + 1e-9 for distance, _ in steps), (seed, steps)
                assert min(distance for distance, _ in steps) < LOCAL_RADIUS / 2, (seed, steps)
    spike = tail(PLANE, 30, lambda p: 0.0 if p["a"] == p["b"] == 0 else 1 + 0.001 * (p["a"] + p["b"]),
                 trials=30, first=18)
    lengths = [distance / LOCAL_RADIUS for distance, _ in spike]
    shortest = lengths.index(min(lengths))
    assert min(lengths) == pytest.approx(1 / 64) and max(lengths[shortest:]) == pytest.approx(1.0), lengths


def test_only_two_continuous_parameters_within_their_budget_close_with_local_steps():
    """One parameter, a stepped float, a third parameter, no budget, or trials past the budget the
    strategy was made with (a study resumed with a larger one): the model proposes to the end."""
    line = {"a": PLANE["a"]}
    for spec, budget in [(PLANE, None), (PLANE, 12), ({**PLANE, "b": {**PLANE["b"], "step": 0.001}}, 20),
                         ({**PLANE, "c": {"type": "float", "low": 0.0, "high": 1.0}}, 20), (line, 20)]:
        objective = valley if "b" in spec else (lambda p: math.sin(3 * p["a"]) + 0.05 * p["a"] ** 2)
        far = sum(distance > 2 * LOCAL_RADIUS for distance, _ in tail(spec, budget, objective))
        assert far >= 2, (spec, budget)


@pytest.mark.parametrize("running", [0, 1])
def test_restored_in_its_local_phase_it_proposes_the_same(running):
    """Restored from its history mid-way through the closing steps, failures among them, it steps as
    the original does."""
    space = Space.from_spec(PLANE)
    original = create_strategy({"name": "gp", "seed": 4}, space, max_trials=30)
    history = []
    for t in range(22):
        p = original.ask()
        status = "failed" if t in (19, 21) else "completed"
        score = valley(p) if status == "completed" else None
        original.tell(p, score, status)
        history.append({"params": p, "score": score, "status": status})
    pending = [original.ask() for _ in range(running)]
    state = json.loads(json.dumps(original.state()))
    restored = restore_strategy(state, space, history=history + [{"params": p, "status": "running"} for p in pending])
    for strategy in (original, restored):
        for p in pending:
            strategy.tell(p, valley(p))
    for _ in range(8):
        p = original.ask()
        assert restored.ask() == p
        for strategy in (original, restored):
            strategy.tell(p, valley(p))


@pytest.mark.parametrize("status", ["infeasible", "failed"])
def test_gp_does_not_keep_proposing_a_region_that_keeps_failing(status):
    """Everything with x + y > 1.2 fails (as out-of-memory runs do at high settings); the optimum of the
    rest lies inside. Random search puts 28% of its trials in the failing corner."""
    space = Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0},
                             "y": {"type": "float", "low": 0.0, "high": 1.0}})
    failing = []
    for seed in range(3):
        strategy = create_strategy({"name": "gp", "seed": seed}, space, max_trials=40)
        for t in range(40):
            p = strategy.ask()
            if p["x"] + p["y"] > 1.2:
                strategy.tell(p, None, status)
                if t >= 15:
                    failing.append(p)
            else:
                strategy.tell(p, (p["x"] - 0.4) ** 2 + (p["y"] - 0.5) ** 2)
    assert len(failing) <= 6, failing  # of 75 model-led trials over 3 seeds


def test_gp_finds_another_categorys_optimum_that_needs_other_numbers():
    """Like tp on a server: "wide" is fair everywhere and best near (0.3, 0.3); "narrow" is best of all,
    but only near (0.8, 0.8) and bad where "wide" is good. Searching the other category only within
    the trust region around the incumbent found it in 1 seed of 8."""
    space = Space.from_spec({"c": ["wide", "narrow"], "x": {"type": "float", "low": 0.0, "high": 1.0},
                             "y": {"type": "float", "low": 0.0, "high": 1.0}})

    def objective(p):
        if p["c"] == "wide":
            return 1 + (p["x"] - 0.3) ** 2 + (p["y"] - 0.3) ** 2
        return 30 * ((p["x"] - 0.8) ** 2 + (p["y"] - 0.8) ** 2)

    found = 0
    for seed in range(8):
        strategy = create_strategy({"name": "gp", "seed": seed}, space, max_trials=40)
        best = math.inf
        for _ in range(40):
            p = strategy.ask()
            value = objective(p)
            strategy.tell(p, value)
            best = min(best, value)
        found += best < 1
    assert found >= 4, found


def test_huge_penalty_scores_do_not_break_the_model():
    """A study where some trials score 9e53 (a penalty seen in a real study): the model still finds the
    minimum among the others, and no value it learns is bigger than a few units."""
    space = Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0},
                             "y": {"type": "float", "low": 0.0, "high": 1.0}})
    strategy = create_strategy({"name": "gp", "seed": 4}, space, max_trials=40)
    best = math.inf
    for _ in range(40):
        p = strategy.ask()
        value = 9e53 if p["x"] < 0.3 else (p["x"] - 0.6) ** 2 + (p["y"] - 0.4) ** 2
        strategy.tell(p, value)
        best = min(best, value)
    _, y = strategy.training_data()
    assert np.all(np.isfinite(y)) and np.abs(y).max() < 10
    assert best < 0.01


def test_warp_keeps_the_order_and_squashes_outliers():
    scores = np.array([3.0, 1.0, 2.0, 9e53, 1.5, 1e300])
    w = warp(scores)
    assert list(np.argsort(w)) == list(np.argsort(scores))
    assert np.all(np.isfinite(w)) and w.max() < 10


def test_pruned_trials_rank_below_completed_and_later_steps_above_earlier():
    space = Space.from_spec(LINE)
    strategy = create_strategy({"name": "gp", "seed": 0}, space)
    strategy.tell({"x": 0.1}, 5.0)
    strategy.tell({"x": 0.2}, 9.0)
    strategy.tell({"x": 0.3}, 1.0, "pruned", step=2)
    strategy.tell({"x": 0.4}, 0.5, "pruned", step=1)
    strategy.tell({"x": 0.5}, None, "infeasible")
    _, y = strategy.training_data()
    assert y[0] < y[1] < y[2] < y[3] < y[4]


def test_hyperparameters_are_fitted_without_pruned_trials_once_three_others_are_told():
    """Early stopping prunes most trials, and their imputed values passed for noise (README,
    early-stopping benchmark); with fewer than three others there is too little to fit on without them."""
    strategy = create_strategy({"name": "gp", "seed": 0}, Space.from_spec(LINE))
    strategy.tell({"x": 0.1}, 5.0)
    strategy.tell({"x": 0.2}, 0.4, "pruned", step=9)
    strategy.tell({"x": 0.3}, None, "failed")
    assert list(strategy.fit_rows()) == [0, 1, 2]
    strategy.tell({"x": 0.4}, 3.0)
    strategy.tell({"x": 0.5}, 0.6, "pruned", step=27)
    assert list(strategy.fit_rows()) == [0, 2, 3]


def test_constant_liar_spreads_parallel_asks():
    space = Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    strategy = create_strategy({"name": "gp", "seed": 1}, space)
    for _ in range(12):
        p = strategy.ask()
        strategy.tell(p, (p["x"] - 0.5) ** 2)
    batch = [strategy.ask()["x"] for _ in range(4)]
    assert min(abs(a - b) for i, a in enumerate(batch) for b in batch[i + 1:]) > 1e-3, batch


@pytest.mark.parametrize("conditional", [False, True])
def test_encoder_rounds_ints_steps_logs_and_categoricals(conditional):
    """Any point rounds to a configuration's encoding; with conditions, inactive parameters are dropped
    and their columns rounded to the one encoding they have (a chain: k needs s on, which needs c = b)."""
    spec = {"n": {"type": "int", "low": 16, "high": 1024, "log": True},
            "m": {"type": "float", "low": 0.7, "high": 0.95, "step": 0.05},
            "c": ["a", "b", "c"]}
    if conditional:
        spec["s"] = {"type": "categorical", "values": ["on", "off"], "when": {"c": "b"}}
        spec["k"] = {"type": "int", "low": 1, "high": 8, "when": {"s": "on"}}
    space = Space.from_spec(spec)
    encoder = Encoder(space)
    rng = np.random.default_rng(0)
    rows = encoder.round(rng.random((200, encoder.width)))
    kinds = set()
    for row in rows:
        params = encoder.decode(row)
        assert space.contains(params)
        assert np.allclose(encoder.encode(params), row)
        kinds.add(tuple(sorted(params)))
    assert len(kinds) == (3 if conditional else 1)


def test_a_conditional_categorical_that_comes_into_play_takes_any_of_its_values():
    """Perturbing configurations where `s` is inactive (c = a) into ones where it is active (c = b):
    `s` must not default to its first value."""
    space = Space.from_spec({"c": ["a", "b"], "s": {"type": "categorical", "values": ["x", "y", "z"],
                                                    "when": {"c": "b"}}})
    encoder = Encoder(space)
    rows = np.repeat(encoder.encode({"c": "a"})[None], 600, axis=0)
    moved = encoder.round(encoder.perturb(np.random.default_rng(0), rows, 0.2))  # switches 40% of c
    now_active = [encoder.decode(row)["s"] for row in moved if encoder.decode(row)["c"] == "b"]
    assert len(now_active) > 100 and set(now_active) == {"x", "y", "z"}
    assert max(now_active.count(v) for v in "xyz") < 0.5 * len(now_active)


def test_the_trust_region_holds_where_the_best_trial_lacks_a_conditional_categorical():
    """The best trial has c = a, so s is inactive there: candidates that keep c = a stay in the box
    (comparing s's empty one-hot with theirs sent nearly all of them to the whole space)."""
    space = Space.from_spec({"c": ["a", "b"], "s": {"type": "categorical", "values": ["x", "y", "z"],
                                                    "when": {"c": "b"}},
                             "x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "float", "low": 0, "high": 1}})
    encoder = Encoder(space)
    incumbent = encoder.encode({"c": "a", "x": 0.5, "y": 0.5})
    region = Region(encoder, incumbent, np.full(encoder.width, 0.1))
    moved = encoder.round(region.fold(encoder.perturb(np.random.default_rng(0), np.repeat(incumbent[None], 2000, 0), 0.2)))
    kept = moved[[encoder.decode(row)["c"] == "a" for row in moved]]
    numeric = ~encoder.is_onehot
    assert len(kept) > 500
    assert ((kept[:, numeric] >= region.low[numeric]) & (kept[:, numeric] <= region.high[numeric])).all()


def test_several_objectives_are_scaled_without_letting_one_outlier_squash_the_rest():
    """ParEGO's scaling of one objective: the ordinary scores keep their spread over [0, 1] beside a huge
    penalty or an infinity, in order; minus infinity counts as the best."""
    ordinary = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    for outlier in (1e6, 1e300, np.inf):
        z = unit_range(np.append(ordinary, outlier))
        assert np.all(np.isfinite(z)) and np.all(np.diff(z) > 0)
        assert z[0] == 0.0 and z[-2] == 1.0 and z[-1] > 1.0
    z = unit_range(np.append(ordinary, -np.inf))
    assert z[-1] == 0.0 and z[-2] == 1.0
    assert np.allclose(unit_range(ordinary), (ordinary - 1) / 7)
    assert np.all(unit_range(np.array([np.inf, np.inf])) == 0.0)


def test_auto_says_what_it_chose_and_why():
    numeric = Space.from_spec({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(6)})
    assert create_strategy("auto", numeric, max_trials=50).describe() == "auto: gp (6 numeric parameters, budget 50)"
    small = Space.from_spec({"a": [1, 2, 3], "b": ["x", "y"]})
    assert create_strategy({}, small, max_trials=10).describe().startswith("auto: grid (all 6 configurations")
    long = create_strategy("auto", numeric, max_trials=None)
    assert long.describe().startswith("auto: gp, then tpe") and create_strategy("tpe", numeric).describe() == "tpe"
    two = Space.from_spec({"a": {"type": "float", "low": 0.0, "high": 1.0}, "b": ["x", "y"]})
    assert create_strategy("auto", two, max_trials=40).describe() == \
        "auto: tpe (1 numeric, 1 categorical parameters, not all continuous, budget 40)"
    plane = Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0},
                             "y": {"type": "float", "low": 1e-3, "high": 1.0, "log": True}})
    assert create_strategy("auto", plane, max_trials=100).describe() == "auto: gp (2 numeric parameters, budget 100)"
    assert create_strategy("auto", plane, max_trials=101).describe() == "auto: tpe (2 numeric parameters, budget 101)"
    assert create_strategy("auto", plane, max_trials=50, objectives=2).describe() == \
        "auto: tpe (2 numeric parameters, 2 objectives, budget 50)"
    line = Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    assert create_strategy("auto", line, max_trials=49).describe() == "auto: gp (1 numeric parameters, budget 49)"
    assert create_strategy("auto", line, max_trials=50).describe() == "auto: tpe (1 numeric parameters, budget 50)"
    assert create_strategy("auto", plane, max_trials=None).describe() == "auto: tpe (2 numeric parameters, no trial budget)"
    lattice = Space.from_spec({"k": {"type": "int", "low": 1, "high": 25}, "x": {"type": "float", "low": 0.0, "high": 1.0,
                                                                               "step": 0.01}})
    assert create_strategy("auto", lattice, max_trials=20).describe() == \
        "auto: tpe (2 numeric parameters, not all continuous, budget 20)"
    assert create_strategy("auto", numeric, max_trials=50, objectives=2).describe() == \
        "auto: gp (6 numeric parameters, 2 objectives, budget 50)"
    conditional = Space.from_spec({"spec": [True, False], "k": {"type": "int", "low": 1, "high": 8, "when": {"spec": True}},
                                   "x": {"type": "float", "low": 0.0, "high": 1.0}})
    assert create_strategy("auto", conditional, max_trials=50).describe() == \
        "auto: gp (2 numeric, 1 categorical parameters (1 conditional), budget 50)"
    assert create_strategy("auto", conditional, max_trials=50, objectives=2).describe() == \
        "auto: gp (2 numeric, 1 categorical parameters (1 conditional), 2 objectives, budget 50)"


def test_auto_keeps_its_choice_across_a_restore_and_hands_over_to_tpe():
    space = Space.from_spec({"x": {"type": "float", "low": 0.0, "high": 1.0}, "c": ["a", "b"],
                             "n": {"type": "int", "low": 1, "high": 50}})
    original = create_strategy({"name": "auto", "seed": 5}, space)  # no budget: gp, then tpe
    history = []
    for _ in range(12):
        p = original.ask()
        score = p["x"] + (p["c"] == "b")
        original.tell(p, score)
        history.append({"params": p, "score": score, "status": "completed"})
    state = json.loads(json.dumps(original.state()))
    assert state["plan"] == [["gp", 200], ["tpe", None]] and "tpe after 200" in state["reason"]
    state["reason"] = "chosen by an older release"  # the restored strategy says what the state says
    restored = restore_strategy(state, space, history=history)
    assert restored.describe().endswith("(chosen by an older release)")
    assert [restored.ask() for _ in range(3)] == [original.ask() for _ in range(3)]
    assert restored.current.name == "gp"
    # past the hand-over trial the second strategy of the plan proposes
    from autotune.strategies import auto
    handed = create_strategy({"name": "auto", "seed": 5}, space)
    handed.plan = [("gp", 4), ("tpe", None)]
    for _ in range(6):
        p = handed.ask()
        handed.tell(p, p["x"])
    assert handed.current is handed.inner[1] and auto.GP_TRIALS == 200
