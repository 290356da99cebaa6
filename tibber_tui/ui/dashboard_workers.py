"""The dashboard's long-lived workers: the collector it hosts, and the database it re-reads.

``run_collector`` runs this instance's Manager and restarts it with backoff when it fails; ``watch_database``
keeps the dashboard's own pool, re-reads the database every ``refresh_interval`` (or sooner on
``request_refresh``) and reconnects while it is gone. Both run as Textual workers, cancelled with the app;
``stop_collector`` waits for the collector's cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.worker import Worker

from tibber_tui.config import Config
from tibber_tui.db.store import Store
from tibber_tui.errors import describe
from tibber_tui.ui.collector_host import CollectorHost, ManagerFactory, restart_delay
from tibber_tui.ui.dashboard_data import DashboardData, load_dashboard
from tibber_tui.ui.live_feed import LiveFeed
from tibber_tui.ui.messages import CollectorCrashed, MessageSink
from tibber_tui.ui.widgets.power_graph import PowerGraph


class DashboardWorkers(App[int]):
    """Mixin of the dashboard app: hosts the collector and reads the database; the app provides the state."""

    config: Config
    dsn: str
    observe: bool
    clock: Callable[[], datetime]
    sink: MessageSink
    manager_factory: ManagerFactory
    manager: CollectorHost | None
    store: Store | None
    data: DashboardData | None
    live: LiveFeed
    refresh_interval: float
    db_timeout: float
    db_connected: bool | None
    selected_token: int | None
    _refresh_wanted: asyncio.Event
    _dirty: bool
    _collector_worker: Worker[None] | None

    if TYPE_CHECKING:  # provided by the app and DashboardPanes; no stubs at run time, which would shadow them

        def log_line(self, level: str, message: str, at: datetime | None = None) -> None: ...

        def _set_db_state(self, connected: bool, error: str) -> None: ...

        def _redraw_if_dirty(self) -> None: ...

        def _collected_here(self) -> set[int]: ...

    # the collector ----------------------------------------------------------------------------------------------------
    @work(exclusive=True, group="collector")
    async def run_collector(self) -> None:
        """Run the Manager until the app exits; a crash is logged and the Manager restarted with backoff."""
        failures = 0
        while True:
            manager = self.manager_factory(self.config, self.dsn, self.sink, self.observe)
            self.manager = manager
            started = asyncio.get_running_loop().time()
            try:
                await manager.run()
                error = "collector stopped unexpectedly"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = describe(exc)
            finally:
                self.manager = None
            # a collector that ran for a while starts the backoff afresh
            failures = 1 if asyncio.get_running_loop().time() - started > 60 else failures + 1
            delay = restart_delay(failures)
            self.post_message(CollectorCrashed(error, delay))
            await asyncio.sleep(delay)

    async def stop_collector(self, grace: float = 6.0) -> None:
        """Cancel the collector worker and wait for its cleanup (flush, close sockets, release leases)."""
        worker = self._collector_worker
        if worker is None or worker.is_finished:
            return
        worker.cancel()
        # WorkerCancelled / WorkerFailed / timeout: the collector is gone either way
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.wait(), grace)

    # the database -------------------------------------------------------------------------------------------
    @work(exclusive=True, group="database")
    async def watch_database(self) -> None:
        """Keep a pool, re-read the database periodically; show "reconnecting" while it is gone."""
        from tibber_tui.db.connection import create_pool

        async def connect_and_refresh() -> None:
            if self.store is None:
                # command_timeout: a query on a connection whose network silently died fails instead of hanging
                pool = await create_pool(self.dsn, min_size=1, max_size=3, command_timeout=self.db_timeout)
                self.store = Store(pool)
            await self.refresh_now()

        failures = 0
        while True:
            try:
                # The whole read under one deadline too: connecting to a silent server, or waiting for a pool
                # connection, would otherwise hang with "database ok" still on screen.
                await asyncio.wait_for(connect_and_refresh(), self.db_timeout)
                if self.db_connected is not True:
                    self.log_line("info", "database connected")
                self._set_db_state(True, "")
                failures = 0
            except Exception as exc:  # unreachable, auth, dropped connection, ...: all mean 'reconnect'
                failures += 1
                error = self._database_error(exc)
                if self.db_connected is not False:
                    self.log_line("error", f"database unreachable, reconnecting: {error}")
                self._set_db_state(False, error)
                await self.close_database()
                await asyncio.sleep(min(10.0, 0.5 * 2 ** min(failures, 5)))
                continue
            self._refresh_wanted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh_wanted.wait(), self.refresh_interval)

    def _database_error(self, exc: Exception) -> str:
        if isinstance(exc, TimeoutError):
            return f"no answer from the database within {self.db_timeout:g}s"
        return describe(exc)

    async def close_database(self) -> None:
        """Drop the dashboard's pool (after a failure, at exit); the next refresh opens a new one."""
        store, self.store = self.store, None
        if store is not None:
            with contextlib.suppress(Exception):  # a broken pool has nothing else to release
                store.pool.terminate()

    async def refresh_now(self) -> None:
        """Read the database now and redraw (also used by tests once they seeded data)."""
        if self.store is None:
            return
        now = self.clock()
        self.data = await load_dashboard(self.store, self.selected_token, now)
        if self.selected_token is None and self.data.tokens:
            self.selected_token = self.data.tokens[0].id
        await self._load_live_rows(now)
        self._dirty = True
        self._redraw_if_dirty()

    def request_refresh(self) -> None:
        """Re-read the database now instead of at the next ``refresh_interval``."""
        self._refresh_wanted.set()

    async def _load_live_rows(self, now: datetime) -> None:
        if self.store is not None and self.data is not None:
            here = self.selected_token in self._collected_here()
            window = self.query_one(PowerGraph).window
            await self.live.load(self.store, self.data.homes, now - window, now, from_events=here)
