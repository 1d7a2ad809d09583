"""Runs benchmark jobs in worker processes, with an optional cache so a long run can be stopped and resumed.

A job is a tuple whose first item is the method; its result is cached under the job and a fingerprint
of the code it ran: the versions of the third-party packages for theirs, a hash of autotune's strategy
code for ours (comments and docstrings left out), so a change to a strategy reruns only our jobs.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fingerprint(method: str) -> str:
    owner = method.split("-", 1)[0]
    if owner == "autotune":
        digest = hashlib.sha256()
        for path in sorted((ROOT / "autotune" / "strategies").glob("*.py")) + [ROOT / "autotune" / "space.py"]:
            digest.update(_code(path.read_text()).encode())
        return digest.hexdigest()[:12]
    package = {"optuna": "optuna", "ngopt": "nevergrad"}[owner]
    return f"{package} {importlib.metadata.version(package)}"


def _code(source: str) -> str:
    """The source as the interpreter sees it, without docstrings and comments."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def run_jobs(fn, jobs: list[tuple], processes: int, cache: str | None, label: str) -> list:
    """fn(job) for every job, in worker processes; results in the order of jobs."""
    done: dict[str, object] = {}
    path = Path(cache) / f"{label}.jsonl" if cache else None
    prints = {m: fingerprint(m) for m in {job[0] for job in jobs}}
    keys = [json.dumps([prints[job[0]], *job]) for job in jobs]
    if path and path.exists():
        for line in path.read_text().splitlines():
            key, result = json.loads(line)
            done[key] = result
    todo = [(key, job) for key, job in zip(keys, jobs) if key not in done]
    if todo:
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
        with Pool(processes) as pool, (open(path, "a") if path else open(os.devnull, "w")) as out:
            for i, result in pool.imap_unordered(_indexed, [(fn, i, job) for i, (_, job) in enumerate(todo)]):
                key, result = todo[i][0], json.loads(json.dumps(result))  # what the cache would give back
                done[key] = result
                out.write(json.dumps([key, result]) + "\n")
                out.flush()
    return [done[key] for key in keys]


def _indexed(args):
    fn, i, job = args
    return i, fn(job)
