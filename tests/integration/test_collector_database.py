"""The database goes away under the collector: live rows are kept and written later, nothing is doubled,
the listener and the leases recover; the BatchWriter's buffer bound drops the oldest rows and says so."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.tcp_proxy import TcpProxy, target_of
from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import (
    count,
    events_of,
    fast_config,
    start_manager,
    stop_manager,
)
from tibber_tui.collector.batch_writer import BatchWriter
from tibber_tui.collector.events import DatabaseStateChanged, ListSink, LiveSample, LogMessage, RowsWritten
from tibber_tui.db import leases
from tibber_tui.db.store import Store
from tibber_tui.tibber.models import LiveMeasurement

TOKEN = "dbkill-token-0123456789abcdef0123456789abcdef-K1L2"
LATE_TOKEN = "dbkill-late-0123456789abcdef0123456789abcdef-L8T3"

TERMINATE_OTHERS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


async def test_terminated_connections_lose_no_live_row_and_recover(
    database_url: str, make_simulator: SimulatorFactory
) -> None:
    sim = await make_simulator(history_days=1, frame_interval=0.05)
    homes = sim.add_token(TOKEN, 2)
    late_homes = sim.add_token(LATE_TOKEN, 1)
    conn = await asyncpg.connect(database_url)  # the test's own session; every other one gets killed
    config = fast_config(database_url, sim.url, history_limit_days=1, price_history_days=1)
    manager, sink, task = await start_manager(config, database_url)
    try:
        token_id = await conn.fetchval("INSERT INTO tibber.tibber_tokens (token) VALUES ($1) RETURNING id", TOKEN)
        await wait_until(lambda: count(conn, "SELECT count(*) FROM tibber.real_time_measurements"), 10, what="live")
        generation = next(o.generation for o in await leases.lease_owners(conn) if o.token_id == token_id)

        for _ in range(4):  # kill every connection of the collector (pool + listener), again and again
            killed = await conn.fetchval(TERMINATE_OTHERS)
            assert killed >= 1
            await asyncio.sleep(0.4)

        # The listener reconnects: a token inserted now is picked up by notification/reconcile.
        await conn.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ($1)", LATE_TOKEN)
        await wait_until(
            lambda: count(
                conn, "SELECT count(*) FROM tibber.real_time_measurements WHERE home_id = $1", late_homes[0].id
            ),
            10,
            what="live rows of a token added after the kills",
        )
        # The lease survived under the same generation (never lost, never taken over) and is renewed.
        owner = next(o for o in await leases.lease_owners(conn) if o.token_id == token_id)
        assert owner.owner == manager.instance_id and owner.generation == generation and not owner.expired
        assert token_id in manager.collected_tokens()
    finally:
        await stop_manager(task)  # graceful: the final flush writes what is pending

    # Every frame the collector received is in the table, exactly once.
    received = {(e.home_id, e.timestamp) for e in events_of(sink, LiveSample) if e.home_id in {h.id for h in homes}}
    rows = await conn.fetch(
        'SELECT home_id, "timestamp" FROM tibber.real_time_measurements WHERE home_id = ANY($1)', [h.id for h in homes]
    )
    stored = [(r["home_id"], r["timestamp"]) for r in rows]
    assert len(stored) == len(set(stored))
    missing = received - set(stored)
    assert not missing, f"{len(missing)} of {len(received)} live rows lost"
    assert len(received) > 50
    await conn.close()


async def test_database_outage_buffers_live_rows_and_recovers(
    database_url: str, make_simulator: SimulatorFactory
) -> None:
    """A 'server restart' as the collector sees it: every connection drops and new ones are refused for 3 s."""
    sim = await make_simulator(history_days=1, frame_interval=0.05)
    homes = sim.add_token(TOKEN, 2)
    late_homes = sim.add_token(LATE_TOKEN, 1)
    proxy = TcpProxy(target_of(database_url))
    await proxy.start()
    conn = await asyncpg.connect(database_url)  # direct: the test's view is never cut
    # A TTL long enough to ride out the outage: the leases must survive it, not be lost and re-claimed.
    config = fast_config(proxy.dsn_for(database_url), sim.url, lease_ttl=12.0, history_limit_days=1)
    manager, sink, task = await start_manager(config, proxy.dsn_for(database_url))
    try:
        token_id = await conn.fetchval("INSERT INTO tibber.tibber_tokens (token) VALUES ($1) RETURNING id", TOKEN)
        await wait_until(lambda: count(conn, "SELECT count(*) FROM tibber.real_time_measurements"), 10, what="live")
        generation = next(o.generation for o in await leases.lease_owners(conn) if o.token_id == token_id)

        proxy.mode = "refuse"
        for writer in list(proxy._writers):  # every open connection drops, like a server going down
            writer.close()
        # A statement the proxy forwarded just before the cut may still commit: count once a flush has failed.
        await wait_until(
            lambda: any(isinstance(e, DatabaseStateChanged) and not e.connected for e in sink.events), 10, "db down"
        )
        before = await count(conn, "SELECT count(*) FROM tibber.real_time_measurements")
        await asyncio.sleep(3.0)
        during = await count(conn, "SELECT count(*) FROM tibber.real_time_measurements")
        assert during == before  # nothing could be written...
        assert manager._writer is not None and manager._writer.pending > 20  # ...it waits in the buffer
        proxy.mode = "forward"

        await conn.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ($1)", LATE_TOKEN)
        await wait_until(
            lambda: count(
                conn, "SELECT count(*) FROM tibber.real_time_measurements WHERE home_id = $1", late_homes[0].id
            ),
            15,
            what="listener back: a token added after the outage is collected",
        )
        owner = next(o for o in await leases.lease_owners(conn) if o.token_id == token_id)
        assert owner.owner == manager.instance_id and owner.generation == generation and not owner.expired
    finally:
        await stop_manager(task)
        await proxy.close()
    states = [e.connected for e in events_of(sink, DatabaseStateChanged)]
    assert False in states and states[-1] is True
    received = {(e.home_id, e.timestamp) for e in events_of(sink, LiveSample) if e.home_id in {h.id for h in homes}}
    rows = await conn.fetch(
        'SELECT home_id, "timestamp" FROM tibber.real_time_measurements WHERE home_id = ANY($1)', [h.id for h in homes]
    )
    stored = [(r["home_id"], r["timestamp"]) for r in rows]
    assert len(stored) == len(set(stored))
    assert received <= set(stored), f"{len(received - set(stored))} live rows lost"
    await conn.close()


def _drop_connections(proxy: TcpProxy) -> None:
    """Cut every connection that goes through the proxy, like a server going down."""
    for writer in list(proxy._writers):
        writer.close()


async def test_buffer_bound_drops_oldest_and_reports(database_url: str, pool: asyncpg.Pool) -> None:
    """The writer's own Store reaches the database through a proxy that goes down: refused for a while."""
    await pool.execute(
        "INSERT INTO tibber.homes (id, time_zone) VALUES ('buffer-home', 'Europe/Oslo') ON CONFLICT DO NOTHING"
    )
    proxy = TcpProxy(target_of(database_url))
    await proxy.start()
    # Short timeouts: while refused, each connection attempt fails at once; a stuck one gives up quickly.
    # No idle connection is opened up front: a connection opened before the cut could still be mid-close
    # when the first flush runs (under load) and let that flush through.
    writer_pool = await asyncpg.create_pool(
        proxy.dsn_for(database_url), min_size=0, max_size=2, timeout=1.0, command_timeout=2.0
    )
    sink = ListSink()
    writer = BatchWriter(Store(writer_pool), sink, flush_interval=0.05, buffer_seconds=10, drop_report_interval=0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runner = asyncio.create_task(writer.run())
    try:
        proxy.mode = "refuse"
        _drop_connections(proxy)
        for second in range(30):  # 30 s of frames while the database is away; the bound keeps 10 s
            writer.add(7, LiveMeasurement("buffer-home", start + timedelta(seconds=second), power=float(second)))
        await wait_until(
            lambda: any(isinstance(e, DatabaseStateChanged) for e in sink.events), 5, what="a failed flush"
        )
        await asyncio.sleep(0.2)  # more flushes fail meanwhile: the rows stay queued, nothing more is dropped
        assert writer.dropped == 19 and writer.pending == 11
        assert await count(pool, "SELECT count(*) FROM tibber.real_time_measurements") == 0
        proxy.mode = "forward"
        # (``pending`` drops to 0 as soon as a flush takes the rows, before they are written: wait for the write)
        await wait_until(lambda: writer.rows_written >= 11, 5, what="buffer written after reconnect")
        assert writer.pending == 0
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await writer_pool.close()
        await proxy.close()
    rows = await pool.fetch(
        "SELECT \"timestamp\", power FROM tibber.real_time_measurements WHERE home_id = 'buffer-home' ORDER BY 1"
    )
    assert [r["power"] for r in rows] == [float(s) for s in range(19, 30)]
    states = [e.connected for e in sink.events if isinstance(e, DatabaseStateChanged)]
    assert states == [False, True]
    drops = [e for e in sink.events if isinstance(e, LogMessage) and "dropped the 19 oldest" in e.message]
    assert drops and drops[0].token_id == 7
    assert sum(e.count for e in sink.events if isinstance(e, RowsWritten)) == 11
