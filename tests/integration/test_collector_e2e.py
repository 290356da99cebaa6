"""The seed's process end to end, in-process: a token INSERTed by SQL becomes rows that match the simulator.

Then ``active = false`` stops everything of the token within about a second (subscriptions completed, socket
closed 1000, no further requests), ``active = true`` resumes without reloading history, and DELETE behaves
like deactivation.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import (
    FIXED_NOW,
    count,
    fast_config,
    fixed_clock,
    running_manager,
)
from tibber_tui.collector.events import CollectorStarted, CollectorStopped, LiveSample
from tibber_tui.simulator import Simulator

TOKEN = "e2e-token-0123456789abcdef0123456789abcdef-XYZ1"
HISTORY_DAYS = 70  # 1,680 hours: three pages of 744, so a reload would be visible in the request count
PRICE_ROWS_AT_LEAST = 96 * 4 - 8
"""Price rows per home once loaded: today, tomorrow and the configured 2 days of history (DST days are shorter)."""


def history_queries(sim: Simulator, token: str) -> int:
    return sum(1 for q in sim.stats.queries.get(token, []) if "consumption(" in q)


async def socket_closed(sim: Simulator, token: str) -> bool:
    return sim.stats.open_sockets(token) == 0 and not sim.stats.subscriptions(token)


async def check_history(pool: asyncpg.Pool, sim: Simulator, home_id: str, producing: bool) -> None:
    start, end = FIXED_NOW - timedelta(days=HISTORY_DAYS + 2), FIXED_NOW + timedelta(hours=1)
    expected = sim.data.consumption(home_id, start, end, as_of=FIXED_NOW)
    rows = await pool.fetch(
        'SELECT "timestamp", consumption, cost, unit_price, currency FROM tibber.consumption '
        'WHERE home_id = $1 ORDER BY "timestamp"',
        home_id,
    )
    assert [r["timestamp"] for r in rows] == [c.from_ for c in expected]
    assert [(r["consumption"], r["cost"], r["unit_price"], r["currency"]) for r in rows] == [
        (c.consumption, c.cost, c.unit_price, c.currency) for c in expected
    ]
    # (Hours the API has not reported yet are in ``expected`` as None: the equality above proves NULL, not 0.)
    produced = await pool.fetch(
        'SELECT "timestamp", production, profit FROM tibber.production WHERE home_id = $1 ORDER BY "timestamp"',
        home_id,
    )
    if producing:
        expected_p = sim.data.production(home_id, start, end, as_of=FIXED_NOW)
        assert [(r["timestamp"], r["production"], r["profit"]) for r in produced] == [
            (p.from_, p.production, p.profit) for p in expected_p
        ]
    else:
        assert produced == []


def price_days(time_zone: str) -> tuple[date, date]:
    """Today and (published at 13:00) tomorrow in the home's time zone."""
    today = FIXED_NOW.astimezone(ZoneInfo(time_zone)).date()
    return today, today + timedelta(days=1)


async def prices_complete(pool: asyncpg.Pool, sim: Simulator, home_id: str, time_zone: str) -> bool:
    """Every price of today and tomorrow is stored, and the history too (``check_prices`` then compares values)."""
    expected = {p.starts_at for day in price_days(time_zone) for p in sim.data.prices(home_id, day)}
    stored = await pool.fetch(
        'SELECT "timestamp" FROM tibber.prices WHERE home_id = $1 AND "timestamp" >= $2',
        home_id,
        FIXED_NOW - timedelta(days=1),
    )
    if not expected <= {r["timestamp"] for r in stored}:
        return False
    return await count(pool, "SELECT count(*) FROM tibber.prices WHERE home_id = $1", home_id) >= PRICE_ROWS_AT_LEAST


async def check_prices(pool: asyncpg.Pool, sim: Simulator, home_id: str, time_zone: str) -> None:
    rows = await pool.fetch(
        'SELECT "timestamp", total, energy, tax, level FROM tibber.prices WHERE home_id = $1 AND "timestamp" >= $2 '
        'ORDER BY "timestamp"',
        home_id,
        FIXED_NOW - timedelta(days=1),
    )
    by_start = {r["timestamp"]: r for r in rows}
    for day in price_days(time_zone):
        expected = sim.data.prices(home_id, day)
        assert len(expected) in (92, 96, 100)
        for price in expected:
            row = by_start[price.starts_at]
            assert (row["total"], row["energy"], row["tax"], row["level"]) == (
                price.total,
                price.energy,
                price.tax,
                price.level,
            )
    # and the configured history (2 days) before today
    assert await count(pool, "SELECT count(*) FROM tibber.prices WHERE home_id = $1", home_id) >= PRICE_ROWS_AT_LEAST


async def check_live(pool: asyncpg.Pool, sim: Simulator, home_id: str) -> int:
    rows = await pool.fetch(
        'SELECT "timestamp", power, power_production, accumulated_consumption FROM tibber.real_time_measurements '
        'WHERE home_id = $1 ORDER BY "timestamp"',
        home_id,
    )
    for row in rows[:20]:
        frame = sim.data.live(home_id, row["timestamp"])
        values = (row["power"], row["power_production"], row["accumulated_consumption"])
        assert values == (frame.power, frame.power_production, frame.accumulated_consumption)
    return len(rows)


async def test_insert_collects_everything_then_deactivate_reactivate_delete(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    sim = await make_simulator(history_days=HISTORY_DAYS, clock=fixed_clock)
    homes = sim.add_token(TOKEN, 2, producing=1)
    config = fast_config(database_url, sim.url)
    async with running_manager(config, database_url, clock=fixed_clock) as (manager, sink):
        # psql-style: the user (or another program) inserts a token row; the trigger does the rest.
        token_id = await pool.fetchval(
            "INSERT INTO tibber.tibber_tokens (token, label) VALUES ($1, 'e2e') RETURNING id", TOKEN
        )
        await wait_until(lambda: count(pool, "SELECT count(*) FROM tibber.homes"), 10, what="homes")
        stored = await pool.fetch(
            "SELECT id, nickname, city, has_production, realtime_enabled FROM tibber.homes ORDER BY id"
        )
        assert [(r["id"], r["nickname"], r["city"], r["has_production"]) for r in stored] == sorted(
            (h.id, h.nickname, h.city, h.producing) for h in homes
        )
        links = await pool.fetch("SELECT home_id FROM tibber.token_homes WHERE token_id = $1", token_id)
        assert sorted(r["home_id"] for r in links) == sorted(h.id for h in homes)

        async def history_complete() -> bool:
            start = FIXED_NOW - timedelta(days=HISTORY_DAYS + 2)
            for home in homes:
                expected = len(sim.data.consumption(home.id, start, FIXED_NOW))
                got = await count(pool, "SELECT count(*) FROM tibber.consumption WHERE home_id = $1", home.id)
                if got < expected:
                    return False
                if home.producing:  # written right after the consumption of the same page
                    expected = len(sim.data.production(home.id, start, FIXED_NOW))
                    got = await count(pool, "SELECT count(*) FROM tibber.production WHERE home_id = $1", home.id)
                    if got < expected:
                        return False
            return True

        async def all_prices_complete() -> bool:
            return all([await prices_complete(pool, sim, h.id, h.time_zone) for h in homes])

        await wait_until(history_complete, 20, what="backfill of consumption and production")
        live_homes = "SELECT count(DISTINCT home_id) FROM tibber.real_time_measurements"
        await wait_until(lambda: _more(pool, live_homes, than=len(homes) - 1), 10, what="live rows of every home")
        await wait_until(all_prices_complete, 10, what="prices of today, tomorrow and the price history")
        for home in homes:
            await check_history(pool, sim, home.id, home.producing)
            await check_prices(pool, sim, home.id, home.time_zone)
            assert await check_live(pool, sim, home.id) > 0
        assert manager.collected_tokens() == {token_id}
        assert await pool.fetchval("SELECT state FROM tibber.token_status WHERE token_id = $1", token_id) == "ok"
        assert any(isinstance(e, LiveSample) for e in sink.events)
        assert sim.stats.open_sockets(TOKEN) == 1  # ONE websocket for both homes
        assert sim.stats.subscriptions(TOKEN) == {h.id for h in homes}

        async def live_loader_rows() -> list[asyncpg.Record] | None:
            rows = await pool.fetch("SELECT home_id, loader, state, owner FROM tibber.loader_status")
            return rows if {(r["home_id"], r["loader"]) for r in rows} >= {(h.id, "live") for h in homes} else None

        loader_rows = await wait_until(live_loader_rows, 5, what="a live loader row per home (flushed every 0.2 s)")
        assert {r["owner"] for r in loader_rows} == {str(manager.instance_id)}

        # Deactivate: subscriptions completed, socket closed 1000, within about a second; then silence.
        history_before = history_queries(sim, TOKEN)
        consumption_before = await count(pool, "SELECT count(*) FROM tibber.consumption")
        started = time.monotonic()
        await pool.execute("UPDATE tibber.tibber_tokens SET active = false WHERE id = $1", token_id)
        await wait_until(lambda: socket_closed(sim, TOKEN), 1.5, interval=0.01, what="socket closed after deactivate")
        elapsed = time.monotonic() - started
        assert 1000 in sim.stats.closed[TOKEN], sim.stats.closed
        await wait_until(lambda: not manager.collected_tokens(), 2, what="collector stopped")
        requests_after_stop = sim.stats.requests[TOKEN]
        live_after_stop = await count(pool, "SELECT count(*) FROM tibber.real_time_measurements")
        await asyncio.sleep(1.0)
        assert sim.stats.requests[TOKEN] == requests_after_stop
        assert await count(pool, "SELECT count(*) FROM tibber.real_time_measurements") == live_after_stop
        assert any(isinstance(e, CollectorStopped) and e.reason == "token deactivated" for e in sink.events)
        print(f"active=false -> socket closed in {elapsed:.3f} s")

        # Re-activate: resumes; history continues from the database (no reload).
        await pool.execute("UPDATE tibber.tibber_tokens SET active = true WHERE id = $1", token_id)
        await wait_until(
            lambda: _more(pool, "SELECT count(*) FROM tibber.real_time_measurements", live_after_stop),
            10,
            what="live rows after re-activation",
        )
        await asyncio.sleep(1.0)
        # At most the recent window and one probe below the oldest row per batch: 2 requests, not 3 pages again.
        assert history_queries(sim, TOKEN) - history_before <= 2
        assert await count(pool, "SELECT count(*) FROM tibber.consumption") == consumption_before
        assert len([e for e in sink.events if isinstance(e, CollectorStarted)]) == 2

        # DELETE behaves like deactivate.
        await pool.execute("DELETE FROM tibber.tibber_tokens WHERE id = $1", token_id)
        await wait_until(lambda: socket_closed(sim, TOKEN), 1.5, interval=0.01, what="socket closed after delete")
        await wait_until(lambda: not manager.collected_tokens(), 2, what="collector stopped after delete")
        requests_after_delete = sim.stats.requests[TOKEN]
        await asyncio.sleep(1.0)
        assert sim.stats.requests[TOKEN] == requests_after_delete
        assert any(isinstance(e, CollectorStopped) and e.reason == "token deleted" for e in sink.events)


async def _more(pool: asyncpg.Pool, sql: str, than: int) -> bool:
    return await count(pool, sql) > than
