"""Pareto dominance on score vectors, lower better in every component: who beats whom, the fronts in
order, the hypervolume a set dominates, and the subset that keeps the most of it.

Written here in numpy because the core depends on neither scipy nor optuna. The hypervolume is exact, by
slicing along the last objective (HSO); its cost grows as n^(d-1), ample for the two or three objectives
a task may have and for the benchmark's fronts.
"""
from __future__ import annotations

import numpy as np

EPS = 1e-12


def dominates(a, b) -> bool:
    """a beats b: no worse in every score and better in at least one. Equal vectors beat neither."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(a <= b) and np.any(a < b))


def nondominated(points) -> np.ndarray:
    """A mask of the points no other point dominates (equal points are all kept).

    In lexicographic order a point can only be beaten by one before it, and whatever beats a dropped
    point also beats what that point beats; so each point is checked against the front kept so far:
    O(n x front) instead of O(n^2)."""
    pts = np.asarray(points, dtype=float)
    keep = np.zeros(len(pts), dtype=bool)
    front: list[int] = []
    for i in np.lexsort(pts.T[::-1]):
        if front:
            kept = pts[front]
            if np.any(np.all(kept <= pts[i], axis=1) & np.any(kept < pts[i], axis=1)):
                continue
        front.append(int(i))
    keep[front] = True
    return keep


def ranks(points, enough: int | None = None) -> np.ndarray:
    """Non-domination rank of each point: 0 for the front, 1 for the front of the rest, and so on. With
    `enough`, it stops once that many points are ranked and gives the rest the next rank."""
    pts = np.asarray(points, dtype=float)
    out = np.zeros(len(pts), dtype=int)
    remaining, rank, done = np.arange(len(pts)), 0, 0
    while remaining.size:
        mask = nondominated(pts[remaining])
        out[remaining[mask]] = rank
        done += int(mask.sum())
        remaining, rank = remaining[~mask], rank + 1
        if enough is not None and done >= enough:
            out[remaining] = rank
            break
    return out


def hypervolume(points, reference) -> float:
    """The volume the points dominate, bounded by the reference point (worse than every point)."""
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    return _volume(pts, ref) if len(pts) else 0.0


def _volume(pts: np.ndarray, ref: np.ndarray) -> float:
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    if pts.shape[1] == 2:  # a sweep along x: each strip up to the next x is covered down to the lowest y so far
        order = np.lexsort((pts[:, 1], pts[:, 0]))
        xs, lowest = pts[order, 0], np.minimum.accumulate(pts[order, 1])
        return float(np.sum(np.diff(np.append(xs, ref[0])) * (ref[1] - lowest)))
    pts = pts[np.argsort(pts[:, -1], kind="stable")]
    tops = np.append(pts[1:, -1], ref[-1])
    return float(sum((top - pts[i, -1]) * _volume(pts[:i + 1, :-1], ref[:-1])
                     for i, top in enumerate(tops) if top > pts[i, -1]))


def reference_point(points) -> np.ndarray:
    """Optuna's choice: 10% beyond the worst value of each objective (EPS where that is 0)."""
    worst = np.max(np.asarray(points, dtype=float), axis=0)
    ref = np.maximum(1.1 * worst, 0.9 * worst)
    ref[ref == 0] = EPS
    return ref


def greedy_subset(points, k: int, reference=None) -> list[int]:
    """k points that keep most of the hypervolume: each pick the one adding the most (ties to the
    earlier point), the greedy 1 - 1/e approximation Optuna's multi-objective TPE uses."""
    pts = np.asarray(points, dtype=float)
    if k >= len(pts):
        return list(range(len(pts)))
    ref = reference_point(pts) if reference is None else np.asarray(reference, dtype=float)
    if not np.all(np.isfinite(ref)):
        return list(range(k))
    chosen: list[int] = []
    remaining = list(range(len(pts)))
    covered = 0.0
    for _ in range(k):
        gains = [hypervolume(pts[chosen + [i]], ref) - covered for i in remaining]
        best = int(np.argmax(gains))
        covered += gains[best]
        chosen.append(remaining.pop(best))
    return chosen
