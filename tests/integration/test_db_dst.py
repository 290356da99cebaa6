"""Europe/Oslo DST days are stored completely, and the process time zone never changes a stored instant."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tibber_tui.db.store import Store
from tibber_tui.tibber.models import Address, Consumption, Home, Price

OSLO = ZoneInfo("Europe/Oslo")


def _local_day(day: date, step: timedelta) -> list[datetime]:
    """Every step of one local Oslo day, as the API sends them: local wall time with its offset."""
    start = datetime(day.year, day.month, day.day, tzinfo=OSLO).astimezone(UTC)
    end = (datetime(day.year, day.month, day.day, tzinfo=OSLO) + timedelta(days=1)).astimezone(UTC)
    out = []
    t = start
    while t < end:
        out.append(t.astimezone(OSLO))
        t += step
    return out


@pytest.mark.parametrize(("day", "hours", "quarters"), [(date(2025, 10, 26), 25, 100), (date(2026, 3, 29), 23, 92)])
async def test_dst_day_is_stored_completely(
    store: Store, pool: asyncpg.Pool, day: date, hours: int, quarters: int
) -> None:
    token = await store.add_token("tok-dst-12345678")
    await store.upsert_homes(token.id, [Home("oslo", "Oslo", "Europe/Oslo", Address(), True, False, "running")])
    hourly = _local_day(day, timedelta(hours=1))
    quarter = _local_day(day, timedelta(minutes=15))
    assert (len(hourly), len(quarter)) == (hours, quarters)
    # Same wall-clock hour twice (October) must stay two rows.
    rows = [
        Consumption(t, t + timedelta(hours=1), 1.0 + i, "kWh", None, None, None, "NOK") for i, t in enumerate(hourly)
    ]
    prices = [Price(t, 1.0 + i / 100, None, None, "NOK", "NORMAL") for i, t in enumerate(quarter)]
    assert await store.upsert_consumption("oslo", rows) == hours
    assert await store.upsert_prices("oslo", prices) == quarters
    stored = await pool.fetch('SELECT "timestamp", consumption FROM tibber.consumption ORDER BY "timestamp"')
    # Compare UTC instants: Python never calls an ambiguous wall time equal to a time in another zone.
    expected = [(t.astimezone(UTC), 1.0 + i) for i, t in enumerate(hourly)]
    assert [(r["timestamp"], r["consumption"]) for r in stored] == expected
    assert await pool.fetchval('SELECT count(DISTINCT "timestamp") FROM tibber.prices') == quarters


_INGEST = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import datetime, timedelta
    from tibber_tui.db.connection import open_store
    from tibber_tui.tibber.models import Address, Consumption, Home, LiveMeasurement

    async def main(dsn, home_id, stamps):
        store = await open_store(dsn)
        t = await store.add_token("tok-" + home_id + "-123456")
        await store.upsert_homes(t.id, [Home(home_id, None, "Europe/Oslo", Address(), True, False, None)])
        parsed = [datetime.fromisoformat(s) for s in stamps]
        hours = [Consumption(p, p + timedelta(hours=1), 1.0, "kWh", None, None, None, None) for p in parsed]
        await store.upsert_consumption(home_id, hours)
        await store.upsert_live([LiveMeasurement(home_id, p, power=1.0) for p in parsed])
        await store.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
    """
)


async def test_same_input_under_utc_and_oslo_stores_identical_instants(database_url: str, pool: asyncpg.Pool) -> None:
    stamps = [t.isoformat() for t in _local_day(date(2025, 10, 26), timedelta(hours=1))]
    stamps += ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-01-01T00:00:00.000+01:00"]
    for tz, home_id in (("UTC", "in_utc"), ("Europe/Oslo", "in_oslo")):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _INGEST,
            database_url,
            home_id,
            json.dumps(stamps),
            env={**os.environ, "TZ": tz},
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
    for table in ("consumption", "real_time_measurements"):
        by_home = {
            h: [
                r["timestamp"]
                for r in await pool.fetch(
                    f'SELECT "timestamp" FROM tibber.{table} WHERE home_id = $1 ORDER BY "timestamp"', h
                )
            ]
            for h in ("in_utc", "in_oslo")
        }
        assert by_home["in_utc"] == by_home["in_oslo"]
        assert sorted(by_home["in_utc"]) == sorted({datetime.fromisoformat(s) for s in stamps})
