"""Finalists: after the search, the best trials (and the baseline) are measured again, and the
re-measurement decides the answer.

A single search measurement can be a lucky one on a busy machine, so the answer is the contender with
the best score over its re-measured runs, SLOs applied to those runs' metrics. The runs are interleaved
(A B C A B C), so drift on the machine hits every contender alike; each run starts the service afresh.
`finalists: {interleave: false}` measures each contender's runs back to back in one service start,
for servers that take minutes to load. Every run is journaled, so a killed study resumes mid-round.

With several objectives the contenders are the search's Pareto front (top_k of its members when it has
more, those keeping the most hypervolume) and the baseline; the answer is the front of their re-measured
scores. A member another contender beats when measured again drops off it, and the reason names both;
there is no verdict, as there is no single winner to be clear about.
"""
from __future__ import annotations

import statistics
import threading
from typing import TYPE_CHECKING

from .noise import NOISY, beats, spread
from .objective import evaluate, run_score, run_values
from .pareto import dominates, greedy_subset, nondominated
from .records import Status, ranked
from .resources import gpus_needed
from .storage import write_json
from .trial import TrialSpec

if TYPE_CHECKING:
    from .executors import Executor
    from .progress import Listener
    from .resources import SlotPool
    from .study import Study

WAKE_S = 0.5


def contenders(study: "Study") -> list[int]:
    """The top_k trials by their search score (several objectives: of the front), and the baseline
    (re-measured in the same round)."""
    top_k = study.task.finalists.top_k
    if study.task.several:
        members = study.trials.front
        ids = sorted(members[i]["id"] for i in greedy_subset([m["score"] for m in members], top_k))
    else:
        ids = [t["id"] for t in ranked(study.trials)[:top_k]]
    baseline = study.state.get("baseline_id")
    if baseline is not None and baseline not in ids and baseline in study.trials and \
            study.trials[baseline]["status"] in (Status.COMPLETED, Status.INFEASIBLE):
        ids.append(baseline)
    return ids


def run_finalists(study: "Study", executor: "Executor", pool: "SlotPool | None", stop: threading.Event,
                  listener: "Listener") -> int:
    """Measure the contenders `repeats` more times each, then decide the answer and the verdict. Returns
    how many runs it started now."""
    spec = study.task.finalists
    if spec is None:
        return 0
    ids = contenders(study)
    if len(ids) < 1:
        return 0
    phase = study.finalist_phase
    if phase is None or phase["contenders"] != ids or phase["repeats"] != spec.repeats:
        study.start_finalists(ids, spec.repeats, spec.interleave)
    listener.message(f"finalists: measuring trials {', '.join(map(str, ids))} {spec.repeats} more times each"
                     + (", interleaved" if spec.interleave else ""))
    started = 0
    for trial_id, rounds in _jobs(ids, spec.repeats, spec.interleave):
        todo = [r for r in rounds if r not in study.finalist_runs.get(trial_id, {})]
        if not todo:
            continue
        if stop.is_set():
            return started
        _measure(study, executor, pool, stop, trial_id, todo)
        started += 1
        if stop.is_set():
            return started
    decide(study, listener)
    return started


def _jobs(ids: list[int], repeats: int, interleave: bool) -> list[tuple[int, list[int]]]:
    """(trial, its run numbers) in the order they run: round by round, or each trial's runs together."""
    if interleave:
        return [(trial_id, [r]) for r in range(1, repeats + 1) for trial_id in ids]
    return [(trial_id, list(range(1, repeats + 1))) for trial_id in ids]


def _measure(study: "Study", executor: "Executor", pool: "SlotPool | None", stop: threading.Event, trial_id: int,
             rounds: list[int]) -> None:
    trial = study.trials[trial_id]
    task = study.task
    need = gpus_needed(task.resources.gpus, trial["params"]) if task.resources is not None else 0
    devices = pool.acquire(need) if pool is not None else None
    label = f"finalist run {rounds[0]}: " if len(rounds) == 1 else "finalist "
    directory = study.dir / "finalists" / f"{trial_id:04d}" / (f"run-{rounds[0]}" if len(rounds) == 1 else "runs")
    run = TrialSpec(trial_id, trial["params"], directory, len(rounds), task.warmup, devices, gpus=need, label=label)
    try:
        result = _wait(executor, run, stop, task.kill_grace)
    finally:
        if devices:
            pool.release(devices)
    if stop.is_set() or result["status"] == "stopped":
        return  # measured again on resume
    measured = result["runs"]
    for i, number in enumerate(rounds):
        if i < len(measured):
            study.record_finalist_run(trial_id, number, "ok", measured[i], None)
        else:
            study.record_finalist_run(trial_id, number, "failed", [], result["error"])
    study.commit()


def _wait(executor: "Executor", spec: TrialSpec, stop: threading.Event, grace: float) -> dict:
    """Run one spec to its end, stopping it when `stop` is set."""
    handle = executor.submit(spec)
    stopped = False
    while not handle.done():
        executor.wakeup.wait(WAKE_S)
        executor.wakeup.clear()
        handle.poll()
        if stop.is_set() and not stopped:
            handle.stop(grace)
            stopped = True
    return handle.result()


def decide(study: "Study", listener: "Listener") -> None:
    """Score each contender over its re-measured runs; the best one is the answer; judge the verdict."""
    task = study.task
    entries = []
    for trial_id in study.finalist_phase["contenders"]:
        trial = study.trials[trial_id]
        runs = study.finalist_runs.get(trial_id, {})
        measured = [runs[r]["batches"] for r in sorted(runs) if runs[r]["status"] == "ok"]
        entry = {"trial_id": trial_id, "params": trial["params"], "search_value": trial["value"],
                 "search_score": trial["score"], "status": "failed", "value": None, "score": None, "metrics": {},
                 "runs": [], "run_scores": [], "error": next((r["error"] for r in runs.values() if r["error"]), None)}
        if measured:
            outcome = evaluate(measured, task.objectives, task.slo)
            entry.update(status=outcome.status, value=outcome.value, score=outcome.score, metrics=outcome.metrics,
                         runs=outcome.runs, error=outcome.error,
                         run_scores=[run_score(r, task.objectives, task.slo) for r in outcome.runs])
        entries.append(entry)
    for entry in entries:
        study.record_finalist(entry)
        if directory_of(study, entry["trial_id"]).is_dir():
            write_json(directory_of(study, entry["trial_id"]) / "result.json", entry)
    if task.several:
        members, reason = judge_front(entries, study.state.get("baseline_id"))
        study.state.update(answer_front=members, verdict=None, verdict_reason=reason)
    else:
        winner, verdict, reason = judge(entries, study.state.get("baseline_id"))
        study.state.update(answer_id=winner and winner["trial_id"], verdict=verdict, verdict_reason=reason)
    study.commit()
    listener.message(f"finalists: {reason}")
    for line in noise_notes(study):
        listener.message(line)


def directory_of(study: "Study", trial_id: int):
    return study.dir / "finalists" / f"{trial_id:04d}"


def judge(entries: list[dict], baseline_id: int | None) -> tuple[dict | None, str | None, str]:
    """The winner (best re-measured score, ties to the lower id), and whether it beats every other
    contender beyond the noise; with the reason in words."""
    feasible = sorted((e for e in entries if e["status"] == Status.COMPLETED and e["score"] is not None),
                      key=lambda e: (e["score"], e["trial_id"]))
    if not feasible:
        return None, None, "no contender held up when measured again (every one failed or missed a hard SLO)"
    winner, others = feasible[0], [e for e in entries if e is not feasible[0] and e["trial_id"] != baseline_id]
    name = "the baseline" if winner["trial_id"] == baseline_id else f"trial {winner['trial_id']}"
    if not others:
        return winner, None, f"{name} is the answer; no other finalist to compare it with"
    close = []
    for other in others:
        ahead, how = beats(winner["run_scores"], other["run_scores"] or [float("inf")])
        if not ahead:
            close.append(f"trial {other['trial_id']} ({how})")
    n = len(winner["run_scores"])
    if close:
        return winner, "inconclusive", (
            f"inconclusive: {name} measured best again, but {', '.join(close)} is within the noise of {n} runs; "
            "either will do, or measure with more repeats on a quieter machine to tell them apart")
    how = "rank test" if n >= 5 else "non-overlapping ranges"
    return winner, "clear", f"clear: {name} beat every other finalist in all {n} runs each ({how}); deploy it"


def judge_front(entries: list[dict], baseline_id: int | None) -> tuple[list[int], str]:
    """The re-measured front (trial ids), and in words who stayed on it and who dropped off, beaten by whom."""
    feasible = [e for e in entries if e["status"] == Status.COMPLETED and e["score"] is not None]
    if not feasible:
        return [], "no contender held up when measured again (every one failed or missed a hard SLO)"
    keep = nondominated([e["score"] for e in feasible])
    members = sorted(e["trial_id"] for e, on in zip(feasible, keep) if on)
    name = lambda i: "the baseline" if i == baseline_id else f"trial {i}"  # noqa: E731
    lines = [f"the Pareto front re-measured: {', '.join(name(i) for i in members)}"]
    for entry, on in zip(feasible, keep):
        if not on:
            winner = next(e for e, k in zip(feasible, keep) if k and dominates(e["score"], entry["score"]))
            lines.append(f"{name(entry['trial_id'])} {'is off' if entry['trial_id'] == baseline_id else 'dropped off'}"
                         f" it, beaten by {name(winner['trial_id'])} when measured again")
    failed = [name(e["trial_id"]) for e in entries if e not in feasible]
    if failed:
        lines.append(f"{', '.join(failed)} failed or missed a hard SLO when measured again")
    return members, "; ".join(lines)


def noise_notes(study: "Study") -> list[str]:
    """Say when measurements were noisy, and name a finalist whose search value its re-measurement does
    not bear out (in each objective, when there are several)."""
    objectives = study.task.objectives
    notes, noisy = [], []
    for k, objective in enumerate(objectives):
        about = f" in {objective.label}" if len(objectives) > 1 else ""
        for trial in study.trials:
            width = spread(run_values(trial.get("runs") or [], objective))
            if width is not None and width > NOISY:
                noisy.append(f"trial {trial['id']} {width:.0%}{about} over its repeats")
        for entry in study.finalists:
            values = run_values(entry["runs"], objective)
            width = spread(values)
            if width is not None and width > NOISY:
                noisy.append(f"trial {entry['trial_id']} {width:.0%}{about} as a finalist")
            found = entry.get("search_value")
            found = found[k] if isinstance(found, list) else found
            if values and found is not None:
                low, high = min(values), max(values)
                margin = NOISY * abs(statistics.median(values))
                if not low - margin <= found <= high + margin:
                    notes.append(f"trial {entry['trial_id']}: {found:.4g}{about} in the search, "
                                 f"{statistics.median(values):.4g} re-measured ({low:.4g}-{high:.4g}): its search "
                                 "measurement was not typical")
    if noisy:
        notes.insert(0, f"measurements are noisy (spread over runs: {', '.join(noisy)}); what helps: more repeats, "
                        "more finalists, a quieter machine")
    return notes
