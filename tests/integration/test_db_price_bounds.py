"""Store.price_bounds: the oldest and newest stored price of one home, as UTC instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg

from tibber_tui.db.store import Store
from tibber_tui.tibber.models import Price

T0 = datetime(2025, 10, 25, 22, 0, tzinfo=UTC)  # midnight in Oslo before the autumn DST change


def price(start: datetime, total: float = 1.0) -> Price:
    return Price(start, total, 0.8, 0.2, "NOK", "NORMAL")


async def _home(pool: asyncpg.Pool, home_id: str) -> None:
    await pool.execute("INSERT INTO tibber.homes (id, time_zone) VALUES ($1, 'Europe/Oslo')", home_id)


async def test_price_bounds_per_home(store: Store, pool: asyncpg.Pool) -> None:
    await _home(pool, "h1")
    await _home(pool, "h2")
    await _home(pool, "empty")
    # Stored out of order and across the 25-hour DST day; a second home must not widen the first one's bounds.
    day = [price(T0 + timedelta(minutes=15 * i), i) for i in range(100)]
    await store.upsert_prices("h1", list(reversed(day)))
    await store.upsert_prices("h2", [price(T0 - timedelta(days=30)), price(T0 + timedelta(days=30))])

    oldest, newest = await store.price_bounds("h1")
    assert oldest == T0 and newest == T0 + timedelta(minutes=15 * 99)
    assert oldest is not None and oldest.utcoffset() == timedelta(0)
    assert await store.price_bounds("h2") == (T0 - timedelta(days=30), T0 + timedelta(days=30))
    assert await store.price_bounds("empty") == (None, None)
    assert await store.price_bounds("no-such-home") == (None, None)

    # An older price given with a local offset counts by its instant; a NULL total is still a stored price.
    oslo = timezone(timedelta(hours=2))
    earlier = datetime(2025, 10, 20, 0, 0, tzinfo=oslo)
    await store.upsert_prices("h1", [Price(earlier, None, None, None, "NOK", None)])
    assert await store.price_bounds("h1") == (earlier.astimezone(UTC), T0 + timedelta(minutes=15 * 99))
