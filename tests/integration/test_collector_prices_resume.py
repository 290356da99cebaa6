"""The price history is loaded once, not on every start: a restart asks only for what the database lacks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import count, fast_config, fixed_clock, running_manager
from tibber_tui.collector.prices import missing_price_ranges
from tibber_tui.db.store import Store
from tibber_tui.simulator import Simulator

TOKEN = "prices-resume-0123456789abcdef0123456789abcdef-P9R1"
TODAY = datetime(2026, 3, 9, 23, 0, tzinfo=UTC)  # midnight in Oslo
DAY = timedelta(days=1)


def range_queries(sim: Simulator) -> int:
    return sum(1 for q in sim.stats.queries.get(TOKEN, []) if "priceInfoRange" in q)


def today_queries(sim: Simulator) -> int:
    return sum(1 for q in sim.stats.queries.get(TOKEN, []) if "priceInfo" in q and "priceInfoRange" not in q)


async def prices_loaded_by(pool: asyncpg.Pool, owner: uuid.UUID, homes: int) -> bool:
    """Every home's price loader of this instance finished its start (history included) and waits."""
    done = await count(
        pool,
        "SELECT count(*) FROM tibber.loader_status WHERE loader = 'prices' AND state = 'waiting' AND owner = $1",
        str(owner),
    )
    return done == homes


async def run_until_prices_loaded(database_url: str, pool: asyncpg.Pool, sim: Simulator, depth: int) -> None:
    config = fast_config(database_url, sim.url, price_history_days=depth, history_limit_days=1)
    async with running_manager(config, database_url, clock=fixed_clock) as (manager, _sink):
        await wait_until(
            lambda: prices_loaded_by(pool, manager.instance_id, 2), 20, what="price loaders done and waiting"
        )


async def test_restart_asks_no_price_history_when_complete_and_only_the_older_part_when_deeper(
    database_url: str, pool: asyncpg.Pool, store: Store, make_simulator: SimulatorFactory
) -> None:
    sim = await make_simulator(history_days=10, clock=fixed_clock)
    homes = sim.add_token(TOKEN, 2)
    await pool.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ($1)", TOKEN)

    await run_until_prices_loaded(database_url, pool, sim, depth=2)
    first_range = range_queries(sim)
    assert first_range >= 1
    bounds = {h.id: await store.price_bounds(h.id) for h in homes}
    oldest = min(b[0] for b in bounds.values() if b[0] is not None)
    newest = max(b[1] for b in bounds.values() if b[1] is not None)
    assert newest >= oldest + 2 * DAY  # the history reaches back the configured depth
    rows = await count(pool, "SELECT count(*) FROM tibber.prices")

    # Restart with the same depth: today's prices are asked again, the history is not.
    today_before = today_queries(sim)
    await run_until_prices_loaded(database_url, pool, sim, depth=2)
    assert today_queries(sim) > today_before
    assert range_queries(sim) == first_range
    assert {h.id: await store.price_bounds(h.id) for h in homes} == bounds
    assert await count(pool, "SELECT count(*) FROM tibber.prices") == rows

    # One more day of depth: one page reaching exactly one day further back, nothing refetched above it.
    await run_until_prices_loaded(database_url, pool, sim, depth=3)
    assert range_queries(sim) == first_range + 1
    for home in homes:
        home_oldest, home_newest = await store.price_bounds(home.id)
        assert home_oldest == oldest - DAY and home_newest == bounds[home.id][1]
    assert await count(pool, 'SELECT count(*) FROM tibber.prices WHERE "timestamp" < $1', oldest) == 2 * 96


def test_missing_price_ranges() -> None:
    depth_start = TODAY - 3 * DAY
    # Nothing stored for one home: the whole depth, for all homes in one walk.
    assert missing_price_ranges({"a": (None, None)}, TODAY, depth_start) == [(depth_start, TODAY)]
    assert missing_price_ranges({}, TODAY, depth_start) == [(depth_start, TODAY)]
    # Complete (today's prices of the last run included): nothing.
    assert missing_price_ranges({"a": (depth_start, TODAY + DAY)}, TODAY, depth_start) == []
    assert missing_price_ranges({"a": (depth_start - DAY, TODAY - timedelta(minutes=15))}, TODAY, depth_start) == []
    # A deeper depth than stored: only the older part.
    assert missing_price_ranges({"a": (TODAY - DAY, TODAY + DAY)}, TODAY, depth_start) == [(depth_start, TODAY - DAY)]
    # Off for two days: the gap up to today, then the older part; the least covered home decides.
    stored = {"a": (TODAY - 4 * DAY, TODAY - 2 * DAY), "b": (TODAY - 5 * DAY, TODAY + DAY)}
    assert missing_price_ranges(stored, TODAY, depth_start) == [(TODAY - 2 * DAY, TODAY)]
    stored = {"a": (TODAY - 2 * DAY, TODAY - 2 * DAY + timedelta(hours=12)), "b": (depth_start, TODAY)}
    assert missing_price_ranges(stored, TODAY, depth_start) == [
        (TODAY - 2 * DAY + timedelta(hours=12), TODAY),
        (depth_start, TODAY - 2 * DAY),
    ]
    # Ranges that touch become one walk; a stale store gets the whole depth.
    stored = {"a": (TODAY - 2 * DAY, TODAY - 2 * DAY)}
    assert missing_price_ranges(stored, TODAY, depth_start) == [(depth_start, TODAY)]
    assert missing_price_ranges({"a": (TODAY - 9 * DAY, TODAY - 8 * DAY)}, TODAY, depth_start) == [(depth_start, TODAY)]
    assert missing_price_ranges({"a": (None, None)}, TODAY, TODAY) == []
