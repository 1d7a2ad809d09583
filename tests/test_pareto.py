"""Pareto dominance, the front of trial records (incremental and from scratch), non-domination ranks, the
hypervolume and its greedy subset, on hand-made score sets and against brute force."""
import itertools

import numpy as np
import pytest

from autotune.pareto import dominates, greedy_subset, hypervolume, nondominated, ranks, reference_point
from autotune.records import Status, Trials, front, ranked


def brute_front(points):
    """By the definition: the points no other point beats (no worse in all, better in one)."""
    return [i for i, p in enumerate(points)
            if not any(all(q_k <= p_k for q_k, p_k in zip(q, p)) and any(q_k < p_k for q_k, p_k in zip(q, p))
                       for q in points)]


def record(trial_id, score, status=Status.COMPLETED):
    return {"id": trial_id, "params": {}, "status": status, "value": score, "score": score}


@pytest.mark.parametrize("a,b,expected", [
    ([1, 2], [2, 3], True),     # better in both
    ([1, 3], [2, 3], True),     # better in one, equal in the other
    ([1, 3], [1, 3], False),    # equal: neither beats the other
    ([1, 4], [2, 3], False),    # a trade-off
    ([2, 3], [1, 2], False),
    ([0, 0, 1], [0, 0, 2], True),
    ([0, 1, 0], [1, 0, 0], False),
])
def test_beats_means_no_worse_in_all_and_better_in_one(a, b, expected):
    assert dominates(a, b) is expected


def test_the_front_of_a_hand_made_set():
    points = [[1, 5], [2, 3], [3, 3], [4, 1], [2, 4], [5, 5], [4, 1]]
    # [3, 3] loses to [2, 3]; [2, 4] to [2, 3]; [5, 5] to everything; the two [4, 1] tie and both stay.
    assert nondominated(points).tolist() == [True, True, False, True, False, False, True]
    assert ranks(points).tolist() == [0, 0, 1, 0, 1, 2, 0]


def test_equal_scores_share_the_front_or_stay_off_it_together():
    assert nondominated([[1, 1], [1, 1], [1, 1]]).all()
    assert nondominated([[1, 1], [2, 2], [2, 2]]).tolist() == [True, False, False]


def test_three_objectives():
    points = [[1, 2, 3], [3, 2, 1], [2, 2, 2], [2, 3, 2], [1, 2, 3.5]]
    assert nondominated(points).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("dims", [2, 3])
def test_front_matches_brute_force_on_random_sets_with_ties(dims):
    rng = np.random.default_rng(dims)
    for _ in range(30):
        points = rng.integers(0, 6, size=(int(rng.integers(1, 40)), dims)).tolist()  # small ints: many ties
        assert np.flatnonzero(nondominated(points)).tolist() == brute_front(points)


def test_ranks_stop_once_enough_are_ranked():
    points = [[i, 10 - i] for i in range(5)] + [[i + 1, 11 - i] for i in range(5)] + [[20, 20]]
    assert ranks(points).tolist() == [0] * 5 + [1] * 5 + [2]
    assert ranks(points, enough=3).tolist() == [0] * 5 + [1] * 6


def test_trials_keep_the_front_as_trials_finish():
    """The incremental front of a study equals the front computed from scratch after every trial, and only
    completed trials are on it."""
    rng = np.random.default_rng(7)
    trials = Trials()
    for i in range(120):
        status = Status.INFEASIBLE if i % 9 == 4 else Status.COMPLETED
        score = rng.integers(0, 8, size=2).tolist()
        trials.put(record(i, score if status == Status.COMPLETED else None, status))
        done = [t for t in trials if t["status"] == Status.COMPLETED]
        expected = [done[k]["id"] for k in brute_front([t["score"] for t in done])]
        assert [t["id"] for t in trials.front] == expected == [t["id"] for t in front(trials)]
    assert trials.best is None  # no single best with several objectives


def test_ranked_puts_the_front_first():
    trials = [record(0, [3, 4]), record(1, [1, 4]), record(2, [4, 1]), record(3, [5, 5]), record(4, [2, 3.5])]
    assert [t["id"] for t in ranked(trials)] == [1, 2, 4, 0, 3]


@pytest.mark.parametrize("points,reference,expected", [
    ([[1, 2]], [3, 3], 2.0),
    ([[1, 2], [2, 1]], [3, 3], 3.0),                 # two rectangles of 2 overlapping in 1
    ([[1, 2], [2, 1], [2, 2]], [3, 3], 3.0),         # a dominated point adds nothing
    ([[1, 2], [4, 0]], [3, 3], 2.0),                 # a point beyond the reference adds nothing
    ([[0, 0, 0]], [1, 2, 3], 6.0),
    ([[0, 0, 1], [1, 1, 0]], [2, 2, 2], 4.0 + 2.0 - 1.0),  # 2x2x1 and 1x1x2, overlapping in 1x1x1
])
def test_hypervolume_of_hand_made_sets(points, reference, expected):
    assert hypervolume(points, reference) == pytest.approx(expected)


def test_hypervolume_equals_a_grid_count():
    """In 3 objectives, against counting the cells of a fine grid that some point dominates."""
    rng = np.random.default_rng(3)
    points = rng.integers(0, 10, size=(12, 3))
    cells = itertools.product(range(10), repeat=3)
    covered = sum(any(all(p[k] <= c[k] for k in range(3)) for p in points) for c in cells)
    assert hypervolume(points, [10, 10, 10]) == pytest.approx(covered)


def test_greedy_subset_keeps_the_spread_out_points():
    points = [[0, 10], [0.1, 9.9], [5, 5], [10, 0], [9.9, 0.1]]
    chosen = greedy_subset(points, 3, [11, 11])
    assert len(set(chosen)) == 3 and 2 in chosen  # the middle point, and one of each close pair at the ends
    assert {0, 1} & set(chosen) and {3, 4} & set(chosen)
    assert hypervolume(np.array(points)[chosen], [11, 11]) >= max(
        hypervolume(np.array(points)[list(c)], [11, 11]) for c in itertools.combinations(range(5), 3)) * (1 - 1 / np.e)
    assert greedy_subset(points, 9) == [0, 1, 2, 3, 4]
    assert reference_point([[1, -2], [3, 0]]).tolist() == pytest.approx([3.3, 1e-12])
