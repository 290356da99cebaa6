"""``RunningCollectors``: the token collectors running in this instance, from start to stop.

Starting one, stopping one for a reason the events show, holding back one that crashed for a growing delay
before it may start again, and giving its lease back. Which tokens should run here, and claiming their
leases, is the Manager's decision (``tibber_tui.collector.manager``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tibber_tui.collector.backoff import Backoff
from tibber_tui.collector.events import CollectorStarted, CollectorStopped, EventSink, LogMessage
from tibber_tui.collector.lease_keeper import LeaseKeeper
from tibber_tui.collector.timings import CollectorTimings
from tibber_tui.collector.token_collector import CollectorContext, TokenCollector
from tibber_tui.db import leases as lease_sql
from tibber_tui.db.store import Store, TokenRow
from tibber_tui.errors import describe
from tibber_tui.secrets import mask_token

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Running:
    token: TokenRow
    collector: TokenCollector
    task: asyncio.Task[str]
    started: float
    """The event loop's clock at start."""


class RunningCollectors:
    """The collectors this instance runs, by token id, and the ones on their way out."""

    def __init__(
        self,
        instance_id: uuid.UUID,
        sink: EventSink,
        timings: CollectorTimings,
        *,
        context: Callable[[], CollectorContext],
        on_rejected: Callable[[int], None],
    ) -> None:
        """``context`` builds what a new collector shares; ``on_rejected(token_id)``: the API refused the token."""
        self.instance_id = instance_id
        self.sink = sink
        self.timings = timings
        self._context = context
        self._on_rejected = on_rejected
        self.store: Store | None = None
        """Set once the Manager's pool is open; leases are released through it."""
        self.keeper: LeaseKeeper | None = None
        """Set once the Manager renews leases; a stopped collector's lease leaves it."""
        self._running: dict[int, _Running] = {}
        self._stopping: dict[int, asyncio.Task[None]] = {}
        self._retry_at: dict[int, float] = {}
        self._failures: dict[int, Backoff] = {}
        self._background: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._running)

    def token_ids(self) -> set[int]:
        """Token ids whose collectors run now."""
        return set(self._running)

    def tokens(self) -> dict[int, TokenRow]:
        """Each running collector's token row, as it was when the collector started."""
        return {token_id: running.token for token_id, running in self._running.items()}

    def may_start(self, token_id: int, now: float) -> bool:
        """Neither running nor stopping, and past its restart delay (``now``: the event loop's clock)."""
        busy = token_id in self._running or token_id in self._stopping
        return not busy and self._retry_at.get(token_id, 0) <= now

    # -- starting ---------------------------------------------------------------------------------

    def start(self, token: TokenRow) -> None:
        """Start the token's collector (its lease is already ours)."""
        collector = TokenCollector(token, self._context())
        task = asyncio.create_task(collector.run(), name=f"token-{token.id}")
        self._running[token.id] = _Running(token, collector, task, asyncio.get_running_loop().time())
        task.add_done_callback(functools.partial(self._collector_done, token.id))
        label = token.label or mask_token(token.token)
        self.sink.emit(CollectorStarted(token.id, label))

    def _collector_done(self, token_id: int, task: asyncio.Task[str]) -> None:
        running = self._running.get(token_id)
        if running is None or running.task is not task or token_id in self._stopping:
            return  # a stop we asked for; _stop handles the bookkeeping
        del self._running[token_id]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None and task.result() == "failed":
            self._on_rejected(token_id)
            reason = "token rejected by the API"
        else:
            backoff = self._failures.setdefault(token_id, Backoff(self.timings.retry_base, self.timings.retry_cap))
            now = asyncio.get_running_loop().time()
            if now - running.started > self.timings.retry_cap:
                backoff.success()  # it ran well for a while: a crash now starts a new series, not a longer wait
            delay = backoff.failure()
            self._retry_at[token_id] = now + delay
            reason = f"collector ended: {describe(exc) if exc else 'no reason'}; restarting in {delay:.0f} s"
            self.sink.emit(LogMessage("error", reason, token_id))
        self._release(token_id)
        self.sink.emit(CollectorStopped(token_id, reason))

    # -- stopping ---------------------------------------------------------------------------------

    def on_lease_lost(self, token_id: int, reason: str) -> None:
        """The LeaseKeeper lost the token's lease: stop its collector, whose lease is no longer ours to release."""
        if token_id in self._running:
            self.sink.emit(LogMessage("warning", f"stopping: {reason}", token_id))
            self.begin_stop(token_id, reason, release=False)

    def begin_stop(self, token_id: int, reason: str, *, release: bool = True) -> None:
        """Start stopping the token's collector (``wait_for_stops`` waits for it); no-op when not running."""
        if token_id in self._stopping or token_id not in self._running:
            return
        task = asyncio.create_task(self._stop(token_id, reason, release=release), name=f"stop-{token_id}")
        self._stopping[token_id] = task

    def begin_stop_all(self, reason: str, *, release: bool) -> None:
        """Start stopping every running collector."""
        for token_id in list(self._running):
            self.begin_stop(token_id, reason, release=release)

    async def wait_for_stops(self) -> None:
        """Until every stop begun so far has finished."""
        if self._stopping:
            await asyncio.gather(*list(self._stopping.values()), return_exceptions=True)

    async def _stop(self, token_id: int, reason: str, *, release: bool) -> None:
        running = self._running.get(token_id)
        try:
            if running is None:
                return
            await running.collector.stop(self.timings.stop_timeout)
            if self.keeper is not None:
                self.keeper.remove(token_id)
            if release and self.store is not None:
                await self._release_quietly(self.store, [token_id])
            self.sink.emit(CollectorStopped(token_id, reason))
        finally:
            self._running.pop(token_id, None)
            self._stopping.pop(token_id, None)

    # -- leases -----------------------------------------------------------------------------------

    def _release(self, token_id: int) -> None:
        if self.keeper is not None:
            self.keeper.remove(token_id)
        store = self.store
        if store is not None:
            task = asyncio.create_task(self._release_quietly(store, [token_id]))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _release_quietly(self, store: Store, token_ids: list[int]) -> None:
        try:
            await lease_sql.release_leases(store.pool, self.instance_id, token_ids)
        except Exception:
            log.debug("lease release failed (it expires by itself)", exc_info=True)
