"""Parallel efficiency: N trials of a fixed duration d on K slots can finish at K/d trials per second at
best; this runs the same study with the local executor and with the ray executor on a local Ray cluster
(three nodes on 127.0.0.1, K CPUs in all), both through `autotune run`, and prints the measured rate
against K/d. Asserts nothing (the goals, >= 0.9 local and >= 0.8 Ray, are read off the table). Needs the
`ray` extra: pip install -e '.[ray]'.

    python benchmarks/parallel.py                      # 48 trials of 5 s on 6 slots
    python benchmarks/parallel.py --duration 2         # shorter trials: Ray's worker start-up weighs more

Three rates per executor, each also as a fraction of K/d: "run" counts from starting `autotune` to its
exit; "trials" from the first trial's start to the last one's end (with Ray that includes starting the
job's worker processes for the first trials: each imports Ray and autotune, a few seconds in all on two
cores); "steady" is K over the mean time a slot takes per trial after the first K (what the runner
sustains once it is going). The default d of 5 s is still far shorter than a serving trial (minutes).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep the cluster on loopback; read when Ray is imported
NODES = 3


def task(trials: int, duration: float, slots: int) -> dict:
    # A trial that sleeps d seconds then prints its metric: sh and sleep cost a few milliseconds.
    return {"name": "parallel", "command": ["sh", "-c", f"sleep {duration}; echo '{{\"loss\": 1.0}}'"],
            "parameters": {"i": list(range(trials))}, "objective": {"metric": "loss", "direction": "minimize"},
            "strategy": "grid", "parallel": slots}


def run(directory: Path, spec: dict, *flags: str) -> tuple[float, float, float]:
    """Rates in trials per second: the whole `autotune run`, from the first trial's start to the last one's
    end, and the steady one."""
    path = directory / "task.json"
    path.write_text(json.dumps(spec))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "autotune", "run", str(path), "--study-dir", str(directory / "study"),
                    *flags], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    whole = time.monotonic() - started
    events = [json.loads(line) for line in (directory / "study" / "trials.jsonl").read_text().splitlines()]
    finished = [e for e in events if e["event"] == "finished"]
    assert len(finished) == len(spec["parameters"]["i"]) and all(e["status"] == "completed" for e in finished)
    def at(event: dict) -> float:
        return datetime.fromisoformat(event["time"]).timestamp()

    started = {e["id"]: at(e) for e in events if e["event"] == "started"}
    spans = sorted((started[e["id"]], at(e) - started[e["id"]]) for e in finished)
    slots = spec["parallel"]
    steady = slots / statistics.mean(span for _, span in spans[slots:])
    n = len(finished)
    return n / whole, n / (max(at(e) for e in finished) - min(started.values())), steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=48, help="N")
    parser.add_argument("--duration", type=float, default=5.0, help="d, seconds")
    parser.add_argument("--slots", type=int, default=6, help="K (a multiple of 3: the Ray cluster has 3 nodes)")
    args = parser.parse_args()
    n, d, k = args.trials, args.duration, args.slots
    spec = task(n, d, k)
    ideal = k / d
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "local").mkdir()
        rows.append(("local", *run(Path(tmp) / "local", spec)))

        import ray
        from ray.cluster_utils import Cluster

        node = {"num_cpus": k // NODES, "node_ip_address": "127.0.0.1", "object_store_memory": 80 << 20,
                "include_log_monitor": False}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        for _ in range(NODES - 1):
            cluster.add_node(wait=False, **node)
        cluster.wait_for_nodes()
        try:
            (Path(tmp) / "ray").mkdir()
            rows.append(("ray", *run(Path(tmp) / "ray", spec, "--ray-address", cluster.address)))
        finally:
            ray.shutdown()
            cluster.shutdown()
    print(f"parallel efficiency: {n} trials of {d:g} s on {k} slots; at best {ideal:.2f} trials/s "
          f"(Ray {ray.__version__}: {NODES} nodes of {k // NODES} CPUs on 127.0.0.1; {os.cpu_count()} cores here)")
    print(f"{'executor':<10}" + "".join(f"{title:>10}{'of K/d':>8}" for title in ("run/s", "trials/s", "steady/s")))
    for name, *rates in rows:
        print(f"{name:<10}" + "".join(f"{rate:>10.2f}{rate / ideal:>8.0%}" for rate in rates))


if __name__ == "__main__":
    main()
