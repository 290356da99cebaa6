"""The Manager: reconciles "active tokens in the table" against "collectors running here", under leases.

The token table is the truth; notifications from the trigger only make a reconcile happen sooner. A
reconcile runs after every (re)connect of the listener, on each notification (debounced), and every
``reconcile_interval``; between them, every ``lease_renew`` seconds, tokens that are wanted but not yet
collected (their lease was held elsewhere) are claimed again, which is how a dead instance's tokens are
taken over. Starting and stopping the collectors themselves is ``RunningCollectors``
(``tibber_tui.collector.running_collectors``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tibber_tui import __version__
from tibber_tui.collector.backoff import Backoff
from tibber_tui.collector.batch_writer import BatchWriter
from tibber_tui.collector.events import BudgetChanged, DatabaseStateChanged, EventSink, LogMessage
from tibber_tui.collector.lease_keeper import LeaseKeeper
from tibber_tui.collector.running_collectors import RunningCollectors
from tibber_tui.collector.status import StatusReporter
from tibber_tui.collector.timings import CollectorTimings
from tibber_tui.collector.token_collector import CollectorContext
from tibber_tui.config import Config
from tibber_tui.db import leases as lease_sql
from tibber_tui.db.listener import TokenChange, TokenListener
from tibber_tui.db.store import Store, TokenExists, TokenRow
from tibber_tui.errors import describe
from tibber_tui.secrets import mask_token
from tibber_tui.tibber.budget import BudgetSnapshot, RateBudget
from tibber_tui.tibber.client import TibberClient

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Manager:
    """Runs the collectors of the tokens this instance holds leases for, until cancelled."""

    def __init__(
        self,
        config: Config,
        dsn: str,
        sink: EventSink,
        *,
        mode: str = "headless",
        observe: bool = False,
        clock: Clock = utc_now,
        timings: CollectorTimings | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self.config = config
        self.dsn = dsn
        self.sink = sink
        self.observe = observe or mode == "observer"
        self.mode = "observer" if self.observe else mode
        self.clock = clock
        self.timings = timings or CollectorTimings()
        self.instance_id = uuid.uuid4()
        self.store: Store | None = None
        self.budget = budget or RateBudget(config.rate_limit_requests, config.rate_limit_window)
        self.status = StatusReporter(sink, str(self.instance_id), interval=self.timings.status_interval, clock=clock)
        self._collectors = RunningCollectors(
            self.instance_id, sink, self.timings, context=self._context, on_rejected=self._token_rejected
        )
        self._wanted: dict[int, TokenRow] = {}
        self._reconcile_requested = asyncio.Event()
        self._lock = asyncio.Lock()
        self._keeper: LeaseKeeper | None = None
        self._writer: BatchWriter | None = None
        self._db_ok = True
        self.reconciles = 0
        """Full reconciles done (for tests)."""

    # -- the interface the UI and the headless mode use ------------------------------------------

    def collected_tokens(self) -> set[int]:
        """Token ids whose collectors run in this instance now."""
        return self._collectors.token_ids()

    def budget_snapshot(self) -> BudgetSnapshot:
        return self.budget.snapshot()

    def request_reconcile(self) -> None:
        """Reconcile soon (used by the listener and after local changes)."""
        self._reconcile_requested.set()

    async def run(self) -> None:
        """Connect, migrate, register and collect until cancelled; raises only if the database is unusable at start."""
        from tibber_tui.db.connection import create_pool
        from tibber_tui.db.migrations import migrate

        pool = await create_pool(self.dsn, min_size=1, max_size=10)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            store = Store(pool)
            self.store = store
            self.status.store = store
            self._collectors.store = store
            await self._register(pool)
            if self.config.api_token and not self.observe:
                await self._add_env_token(store)
            self._writer = BatchWriter(
                store,
                self.sink,
                flush_interval=self.config.flush_interval,
                flush_rows=self.config.flush_rows,
                buffer_seconds=self.config.live_buffer_seconds,
                # Rows only: the stream's own state says running/stopped (the last flush comes after the stop).
                on_written=lambda token_id, home, n: self.status.update(token_id, home, "live", rows=n, success=True),
            )
            self._keeper = LeaseKeeper(
                pool,
                self.instance_id,
                self.sink,
                ttl=self.config.lease_ttl,
                renew=self.config.lease_renew,
                on_lost=self._collectors.on_lease_lost,
                register=lambda: self._register(pool),
            )
            self._collectors.keeper = self._keeper
            self.sink.emit(DatabaseStateChanged(True, "pool open, schema up to date"))
            self.sink.emit(LogMessage("info", f"instance {self.instance_id} started ({self.mode})"))
            await self._run_tasks(pool)
        finally:
            await asyncio.shield(self._shutdown(pool))

    async def _run_tasks(self, pool: asyncpg.Pool) -> None:
        assert self._keeper is not None and self._writer is not None
        tasks = [
            asyncio.create_task(self._keeper.run(), name="lease-keeper"),
            asyncio.create_task(self.status.run(), name="loader-status"),
            asyncio.create_task(self._budget_loop(), name="budget"),
        ]
        if not self.observe:
            changes: asyncio.Queue[TokenChange] = asyncio.Queue()
            listener = TokenListener(
                self.dsn,
                changes=changes,
                on_connected=self._on_listener_connected,
                sink=self.sink,
                reconcile_interval=self.config.reconcile_interval,
            )
            tasks += [
                asyncio.create_task(listener.run(), name="token-listener"),
                asyncio.create_task(self._consume_changes(changes), name="token-changes"),
                asyncio.create_task(self._reconcile_loop(), name="reconcile"),
                asyncio.create_task(self._writer.run(), name="batch-writer"),
            ]
        try:
            # Every task loops until cancelled; one ending means a bug or a fatal error: surface it.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise RuntimeError(f"collector task {next(iter(done)).get_name()} ended unexpectedly")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _register(self, pool: asyncpg.Pool) -> None:
        await lease_sql.register_instance(
            pool, self.instance_id, host=socket.gethostname(), pid=os.getpid(), mode=self.mode, version=__version__
        )

    async def _add_env_token(self, store: Store) -> None:
        token = self.config.api_token
        assert token
        if any(row.token == token for row in await store.list_tokens()):
            return
        with contextlib.suppress(TokenExists):  # another instance added it a moment ago
            row = await store.add_token(token, label="TIBBER_API_TOKEN")
            self.sink.emit(LogMessage("info", f"added token {mask_token(token)} from TIBBER_API_TOKEN", row.id))

    # -- reconcile --------------------------------------------------------------------------------

    async def _on_listener_connected(self) -> None:
        self.request_reconcile()

    async def _consume_changes(self, changes: asyncio.Queue[TokenChange]) -> None:
        while True:
            await changes.get()
            self.request_reconcile()

    async def _reconcile_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_full = float("-inf")
        retry = Backoff(base=self.timings.retry_base, cap=min(self.config.lease_renew, 5.0))
        while True:
            wait = self.config.lease_renew if self._db_ok else retry.delay(retry.failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reconcile_requested.wait(), wait)
            full = self._reconcile_requested.is_set() or loop.time() - last_full >= self.config.reconcile_interval
            if self._reconcile_requested.is_set():
                await asyncio.sleep(self.timings.debounce)  # let a burst of notifications arrive
            self._reconcile_requested.clear()
            try:
                if full or not self._db_ok:
                    await self.reconcile()
                    last_full = loop.time()
                else:
                    await self._claim_wanted()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retry.failure()
                self._database_state(False, f"reconcile failed: {describe(exc)}")
                log.debug("reconcile failed", exc_info=True)
                continue
            retry.success()
            self._database_state(True, "reconciled")

    async def reconcile(self) -> None:
        """Stop collectors of tokens no longer wanted, then claim and start the wanted ones."""
        store = self.store
        if store is None or self.observe:
            return
        async with self._lock:
            tokens = await store.list_tokens()
            statuses = await store.token_statuses()
            self.reconciles += 1
            present = {t.id: t for t in tokens}
            wanted: dict[int, TokenRow] = {}
            for token in tokens:
                status = statuses.get(token.id)
                failed = status is not None and status.state == "failed" and status.token_updated_at == token.updated_at
                if token.active and not failed:
                    wanted[token.id] = token
            self._wanted = wanted
            for token_id, started_with in self._collectors.tokens().items():
                row = wanted.get(token_id)
                if row is None:
                    gone = present.get(token_id)
                    reason = "token deleted" if gone is None else ("token deactivated" if not gone.active else "failed")
                    self._collectors.begin_stop(token_id, reason)
                elif row.token != started_with.token:
                    self._collectors.begin_stop(token_id, "token changed")
            await self._collectors.wait_for_stops()
            await self._claim_locked()

    async def _claim_wanted(self) -> None:
        async with self._lock:
            await self._claim_locked()

    async def _claim_locked(self) -> None:
        store, keeper = self.store, self._keeper
        if store is None or keeper is None or self.observe:
            return
        now = asyncio.get_running_loop().time()
        pending = [t for t in self._wanted if self._collectors.may_start(t, now)]
        if not pending:
            return
        limit = await self._fair_share()
        sent_at = keeper.now()
        claimed = await lease_sql.claim_leases(
            store.pool, self.instance_id, pending, self.config.lease_ttl, limit=limit
        )
        for lease in claimed:
            keeper.add(lease, sent_at)
            self._collectors.start(self._wanted[lease.token_id])

    async def _fair_share(self) -> int:
        """How many more tokens this instance should take, so simultaneous starts spread the tokens out."""
        assert self.store is not None
        stale_after = min(2 * self.config.lease_renew, self.config.lease_ttl)
        instances = max(1, await lease_sql.live_collector_count(self.store.pool, stale_after))
        return max(0, math.ceil(len(self._wanted) / instances) - len(self._collectors))

    def _token_rejected(self, token_id: int) -> None:
        self._wanted.pop(token_id, None)  # no retry until the row changes (the next reconcile re-reads it)

    # -- what a collector is given ------------------------------------------------------------------

    def _context(self) -> CollectorContext:
        assert self.store is not None and self._writer is not None
        return CollectorContext(
            store=self.store,
            writer=self._writer,
            status=self.status,
            sink=self.sink,
            config=self.config,
            timings=self.timings,
            clock=self.clock,
            client_factory=self._make_client,
        )

    def _make_client(self, token: str) -> TibberClient:
        extra: dict[str, Any] = {}
        if self.timings.client_retry_delay is not None:
            extra["retry_delay"] = self.timings.client_retry_delay
        return TibberClient(
            token,
            api_url=self.config.api_url,
            budget=self.budget,
            max_retries=self.timings.client_retries,
            rate_limit_cooldown=self.timings.rate_limit_cooldown,
            **extra,
        )

    # -- the rest ---------------------------------------------------------------------------------

    async def _budget_loop(self) -> None:
        last: tuple[int, int, int | None] | None = None
        while True:
            snap = self.budget.snapshot()
            eta = None if snap.eta_seconds is None else round(snap.eta_seconds)
            key = (snap.used, snap.queued_total, eta)
            if key != last:
                last = key
                self.sink.emit(BudgetChanged(snap.used, snap.limit, snap.window, snap.queued_total, snap.eta_seconds))
            await asyncio.sleep(self.timings.budget_interval)

    def _database_state(self, connected: bool, detail: str) -> None:
        if connected != self._db_ok:
            self._db_ok = connected
            self.sink.emit(DatabaseStateChanged(connected, detail))

    async def _shutdown(self, pool: asyncpg.Pool) -> None:
        """Stop every collector, flush, release leases, deregister, close the pool: within about 5 s."""
        try:
            self._collectors.begin_stop_all("shutting down", release=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._collectors.wait_for_stops(), self.timings.stop_timeout + 1.0)
            if self._writer is not None:
                await self._writer.close(1.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.status.flush(), 0.5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lease_sql.deregister_instance(pool, self.instance_id), 1.0)
        finally:
            try:
                await asyncio.wait_for(pool.close(), 1.0)
            except Exception:
                pool.terminate()
            self.sink.emit(LogMessage("info", f"instance {self.instance_id} stopped"))
