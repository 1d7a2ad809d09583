"""The mailbox between the autotune process and its trials' Ray tasks: progress reports go up while a
trial runs, and a stop request goes down. Nodes share no filesystem with autotune, and a Ray task's
return value comes only at its end, so a running trial talks through this actor (one per executor,
on autotune's node).

It is an asyncio actor, so a waiting call (a long poll) does not hold up the others; such an actor may
run one caller's calls out of order, so a trial sends its reports one batch at a time, each after the
last was taken in, and says `finished` only after the last.
"""
from __future__ import annotations

import asyncio


class Hub:
    """Keyed by attempt (one Ray task); becomes a Ray actor with `ray.remote(Hub)`."""

    def __init__(self):
        self.reports: dict[str, list[dict]] = {}
        self.started: dict[str, str] = {}      # attempt -> the node id it runs on
        self.stopping: set[str] = set()
        self.news = asyncio.Event()            # reports or an end arrived for the autotune process
        self.signals: dict[str, asyncio.Event] = {}

    def _signal(self, key: str) -> asyncio.Event:
        return self.signals.setdefault(key, asyncio.Event())

    # -- from a trial's task ---------------------------------------------------------------------
    async def start(self, key: str, node_id: str) -> bool:
        """The task began on `node_id`; True if it was told to stop before it began."""
        self.started[key] = node_id
        return key in self.stopping

    async def report(self, key: str, reports: list[dict]) -> None:
        self.reports.setdefault(key, []).extend(reports)
        self.news.set()

    async def wait_stop(self, key: str, timeout: float) -> bool:
        """Whether the trial is to stop, waiting up to `timeout` seconds for the word (or its end)."""
        if key not in self.stopping:
            try:
                await asyncio.wait_for(self._signal(key).wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return key in self.stopping

    async def finished(self, key: str) -> None:
        """The task is about to return: wake its stop watcher and the autotune process."""
        self._signal(key).set()
        self.news.set()

    # -- from the autotune process ----------------------------------------------------------------
    async def stop(self, key: str) -> bool:
        """Ask the attempt to stop; True if its task has begun (a queued one is cancelled instead)."""
        self.stopping.add(key)
        self._signal(key).set()
        return key in self.started

    async def node_of(self, key: str) -> str | None:
        return self.started.get(key)

    async def take(self, timeout: float) -> dict[str, list[dict]]:
        """The reports that arrived since the last call, waiting up to `timeout` seconds for news."""
        if not self.reports:
            try:
                await asyncio.wait_for(self.news.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        self.news.clear()
        reports, self.reports = self.reports, {}
        return reports

    async def forget(self, key: str) -> None:
        """The attempt is over: drop what the hub kept for it."""
        for table in (self.reports, self.started, self.signals):
            table.pop(key, None)
        self.stopping.discard(key)
