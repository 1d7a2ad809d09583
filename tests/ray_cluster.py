"""A real Ray cluster for the tests of one module: three nodes on 127.0.0.1, each with 2 CPUs and 2
pretend GPUs (Ray hands them out and sets CUDA_VISIBLE_DEVICES for the tasks it gives them), started
when a test first asks for it (8-16 s here) and stopped by `stop()` when the module ends.

The test process connects to it as a Ray driver, so that executors created in the process use that
connection (as a library caller's would be used) and its warm workers; `autotune` run as a subprocess
connects by the address.
"""
from __future__ import annotations

import os

# Every node, driver and GCS on loopback (Ray would use the interface's address); read when Ray is imported.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
NODES, CPUS, GPUS = 3, 2, 2
STORE = 80 << 20  # bytes of object store per node, near Ray's smallest

_cluster = None
_workers: list = []


def start():
    """The cluster, started if it is not yet."""
    global _cluster
    if _cluster is None:
        import ray
        from ray.cluster_utils import Cluster

        # No dashboard and no log monitor (nothing here reads them): the cluster starts in half the time.
        node = {"num_cpus": CPUS, "num_gpus": GPUS, "node_ip_address": "127.0.0.1", "object_store_memory": STORE,
                "include_log_monitor": False}
        _cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        _workers[:] = [_cluster.add_node(wait=False, **node) for _ in range(NODES - 1)]
        _cluster.wait_for_nodes()
        ray.init(address=_cluster.address, log_to_driver=False, logging_level="warning")
    return _cluster


def address() -> str:
    return start().address


def workers() -> list:
    """The nodes other than the head (the one the test process and autotune's hub use)."""
    start()
    return list(_workers)


def remove(node) -> None:
    """Lose a node: its raylet and its workers are killed, as when a machine dies."""
    _cluster.remove_node(node, allow_graceful=False)
    _workers.remove(node)


def stop() -> None:
    global _cluster
    if _cluster is None:
        return
    import ray

    ray.shutdown()
    _cluster.shutdown()
    _cluster = None
    _workers.clear()
