"""Simulator faults under a running collector: each is recovered from or reported, and the process goes on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import asyncpg

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import (
    FIXED_NOW,
    count,
    events_of,
    fast_config,
    fixed_clock,
    running_manager,
)
from tibber_tui.collector.events import ListSink, LogMessage, StreamStateChanged, TokenFailed
from tibber_tui.collector.manager import Manager
from tibber_tui.simulator import SimHome, Simulator

TOKEN = "faults-token-0123456789abcdef0123456789abcdef-F4U1"
BAD_TOKEN = "faults-bad-token-0123456789abcdef0123456789ab-BAD0"


@dataclass
class Running:
    sim: Simulator
    manager: Manager
    sink: ListSink
    pool: asyncpg.Pool
    homes: list[SimHome]
    token_id: int

    async def live_rows(self) -> int:
        return await count(self.pool, "SELECT count(*) FROM tibber.real_time_measurements")

    async def more_live_rows(self, than: int, within: float = 5.0, what: str = "live rows again") -> None:
        async def grown() -> bool:
            return await self.live_rows() > than + 5

        await wait_until(grown, within, what=what)

    async def loaders_idle(self) -> bool:
        """Every home's history and price loader has finished and waits for its next run (no requests due)."""
        rows = await self.pool.fetch(
            "SELECT home_id, loader, state FROM tibber.loader_status WHERE home_id = ANY($1::text[]) "
            "AND loader <> 'live'",
            [h.id for h in self.homes],
        )
        loaders = {(r["home_id"], r["loader"]) for r in rows}
        expected = {(h.id, loader) for h in self.homes for loader in ("consumption", "prices")}
        return loaders >= expected and all(r["state"] == "waiting" for r in rows)


@contextlib.asynccontextmanager
async def collecting(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory, **sim_config: object
) -> AsyncIterator[Running]:
    sim = await make_simulator(history_days=2, clock=fixed_clock, **sim_config)
    homes = sim.add_token(TOKEN, 2)
    config = fast_config(database_url, sim.url, price_history_days=1)
    async with running_manager(config, database_url, clock=fixed_clock) as (manager, sink):
        token_id = await pool.fetchval("INSERT INTO tibber.tibber_tokens (token) VALUES ($1) RETURNING id", TOKEN)
        running = Running(sim, manager, sink, pool, homes, token_id)
        await wait_until(running.live_rows, 10, what="live rows")
        yield running


async def test_socket_drop_reconnects(database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory) -> None:
    async with collecting(database_url, pool, make_simulator) as run:
        connects = run.sim.stats.ws_connects[TOKEN]
        assert run.sim.faults.drop_sockets(TOKEN) == 1
        stats = run.sim.stats
        # Rows of frames from before the drop may still be on their way to the table: wait for the new socket.
        await wait_until(lambda: stats.open_sockets(TOKEN) == 1 and stats.ws_connects[TOKEN] > connects, 10)
        before = await run.live_rows()
        await run.more_live_rows(before, what="live rows after the socket drop")
        assert stats.ws_connects[TOKEN] == connects + 1  # one reconnect, no storm
        assert stats.open_sockets(TOKEN) == 1
        states = [e.state for e in events_of(run.sink, StreamStateChanged)]
        assert "reconnecting" in states and states[-1] == "connected"


async def test_stalled_stream_goes_stale_and_reconnects(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    async with collecting(database_url, pool, make_simulator) as run:
        run.sim.faults.stall(TOKEN, None)
        await wait_until(
            lambda: any(e.state == "stale" for e in events_of(run.sink, StreamStateChanged)),
            5,
            what="stale detected (stale_after 1.5 s)",
        )
        before = await run.live_rows()
        run.sim.faults.resume(TOKEN)
        await run.more_live_rows(before, what="live rows after the stall")
        assert run.sim.stats.open_sockets(TOKEN) == 1


async def test_server_complete_resubscribes_that_home(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    async with collecting(database_url, pool, make_simulator) as run:
        home = run.homes[0].id
        assert run.sim.faults.complete(TOKEN, home) == 1
        await asyncio.sleep(0.5)
        before = await count(pool, "SELECT count(*) FROM tibber.real_time_measurements WHERE home_id = $1", home)

        async def grown() -> bool:
            now = await count(pool, "SELECT count(*) FROM tibber.real_time_measurements WHERE home_id = $1", home)
            return now > before + 5

        await wait_until(grown, 5, what="the completed home streams again")
        assert run.sim.stats.subscriptions(TOKEN) == {h.id for h in run.homes}


async def test_4429_cools_down_without_a_storm(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    async with collecting(database_url, pool, make_simulator) as run:
        await pool.execute("UPDATE tibber.tibber_tokens SET active = false WHERE id = $1", run.token_id)
        await wait_until(lambda: run.sim.stats.open_sockets(TOKEN) == 0, 3, what="socket closed")
        # Two other clients hold the token's two allowed sockets.
        async with aiohttp.ClientSession(headers={"User-Agent": "test/1.0"}) as session:
            blockers = [await _open_socket(session, run.sim.ws_url, TOKEN) for _ in range(2)]
            connects = run.sim.stats.ws_connects[TOKEN]
            await pool.execute("UPDATE tibber.tibber_tokens SET active = true WHERE id = $1", run.token_id)
            await asyncio.sleep(3.0)
            attempts = run.sim.stats.ws_connects[TOKEN] - connects
            # 4429 means "cool down" (0.5 s in these tests, minutes by default): a few attempts, not a storm.
            assert 1 <= attempts <= 3.0 / 0.5 + 2, attempts
            assert 4429 in run.sim.stats.closed[TOKEN]
            assert any(e.state == "cooling_down" for e in events_of(run.sink, StreamStateChanged))
            before = await run.live_rows()
            for ws in blockers:
                await ws.close()
            await run.more_live_rows(before, what="live rows once sockets are free")


async def _open_socket(session: aiohttp.ClientSession, url: str, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(url, protocols=("graphql-transport-ws",))
    await ws.send_json({"type": "connection_init", "payload": {"token": token}})
    message = await ws.receive_json(timeout=5)
    assert message["type"] == "connection_ack", message
    return ws


async def test_429_ban_backs_off_without_requests_during_the_ban(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    async with collecting(database_url, pool, make_simulator) as run:
        await wait_until(run.loaders_idle, 10, what="history and prices loaded: only the live stream talks now")
        run.sim.faults.rate_limit(limit=3, window=1.0, ban=1.5)
        async with aiohttp.ClientSession(headers={"User-Agent": "test/1.0"}) as session:
            for _ in range(4):  # this IP (the collector's too) goes over the limit and is banned
                async with session.post(run.sim.url, json={"query": "{viewer{name}}"}) as response:
                    last_status = response.status
        assert last_status == 429 and run.sim.stats.rate_limited == 1
        before = await run.live_rows()
        run.sim.faults.drop_sockets(TOKEN)  # the stream must reconnect: it meets the ban
        await wait_until(lambda: run.sim.stats.rate_limited >= 2, 3, what="the collector meets the ban")
        await run.more_live_rows(before, within=8, what="live rows after the ban")
        # Exactly one request of the collector hit the ban; it then waited the ban out (no renewal by traffic).
        assert run.sim.stats.rate_limited == 2


async def test_invalid_token_is_reported_and_not_retried_until_changed(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    async with collecting(database_url, pool, make_simulator) as run:
        bad_id = await pool.fetchval("INSERT INTO tibber.tibber_tokens (token) VALUES ($1) RETURNING id", BAD_TOKEN)
        await wait_until(
            lambda: pool.fetchrow("SELECT state, reason FROM tibber.token_status WHERE token_id = $1", bad_id),
            5,
            what="failed status",
        )
        status = await pool.fetchrow("SELECT state, reason FROM tibber.token_status WHERE token_id = $1", bad_id)
        assert status["state"] == "failed" and BAD_TOKEN not in status["reason"]
        failed = [e for e in events_of(run.sink, TokenFailed) if e.token_id == bad_id]
        assert len(failed) == 1
        requests = run.sim.stats.requests[BAD_TOKEN]
        await pool.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ('another-unknown-token-xyz-0000')")
        await asyncio.sleep(1.5)  # reconciles and claim rounds pass: the failed token stays alone
        assert run.sim.stats.requests[BAD_TOKEN] == requests
        assert bad_id not in run.manager.collected_tokens()

        await pool.execute("UPDATE tibber.tibber_tokens SET label = 'fixed?' WHERE id = $1", bad_id)
        await wait_until(lambda: run.sim.stats.requests[BAD_TOKEN] > requests, 5, what="retried after the row changed")
        before = await run.live_rows()
        await run.more_live_rows(before, what="the good token keeps collecting")


async def test_malformed_node_is_reported_and_the_rest_kept(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    sim = await make_simulator(history_days=2, clock=fixed_clock)
    homes = sim.add_token(TOKEN, 1)
    sim.faults.malformed_node(homes[0].id, "from", count=1)
    config = fast_config(database_url, sim.url, price_history_days=1)
    async with running_manager(config, database_url, clock=fixed_clock) as (_manager, sink):
        await pool.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ($1)", TOKEN)
        expected = sim.data.consumption(homes[0].id, FIXED_NOW - timedelta(days=5), FIXED_NOW, as_of=FIXED_NOW)

        async def stored() -> bool:
            return await count(pool, "SELECT count(*) FROM tibber.consumption") >= len(expected) - 1

        await wait_until(stored, 10, what="history minus the bad node")
        await wait_until(lambda: any(isinstance(e, LogMessage) and "malformed" in e.message for e in sink.events), 3)
        assert await count(pool, "SELECT count(*) FROM tibber.consumption") == len(expected) - 1
        await wait_until(lambda: count(pool, "SELECT count(*) FROM tibber.real_time_measurements"), 5)
        error = await wait_until(
            lambda: pool.fetchval(
                "SELECT last_error FROM tibber.loader_status WHERE home_id = $1 AND loader = 'consumption'",
                homes[0].id,
            ),
            3,
            what="the malformed node in the loader status",
        )
        assert "malformed" in error
