"""The observer's graph feed: new live rows read from the database for homes collected elsewhere."""

from __future__ import annotations

from datetime import timedelta

from tests.ui.helpers import FIXED_NOW, HOME_CABIN, HOME_OSLO
from tibber_tui.db.store import Store
from tibber_tui.tibber.models import LiveMeasurement
from tibber_tui.ui.live_feed import LIVE_PAGE, LiveFeed

QUIET = HOME_OSLO.id
BUSY = HOME_CABIN.id
WINDOW_START = FIXED_NOW - timedelta(hours=1)


def _rows(home_id: str, first: int, count: int, step: timedelta, power: float) -> list[LiveMeasurement]:
    start = WINDOW_START + timedelta(minutes=5)
    return [LiveMeasurement(home_id, start + (first + i) * step, power=power + i) for i in range(count)]


async def test_a_quiet_home_does_not_hold_back_a_busy_one(store: Store) -> None:
    feed = LiveFeed()
    homes = [HOME_OSLO, HOME_CABIN]
    second = timedelta(seconds=1)
    await store.upsert_live(_rows(QUIET, 0, 5, second, 100.0) + _rows(BUSY, 0, 5, second, 200.0))
    await feed.load(store, homes, WINDOW_START, FIXED_NOW, from_events=False)  # the backfill
    assert len(feed.samples.ring(QUIET)) == 5 and len(feed.samples.ring(BUSY)) == 5

    # The quiet home stops; the busy one writes more than a page after the quiet home's last row.
    step = timedelta(milliseconds=400)
    busy = _rows(BUSY, 20, LIVE_PAGE + 700, step, 1000.0)
    await store.upsert_live(busy)
    for _ in range(2):  # every refresh must move on, not re-read the same first page
        await feed.load(store, homes, WINDOW_START, FIXED_NOW, from_events=False)
    newest = feed.samples.latest(BUSY)
    assert newest is not None and newest.timestamp == busy[-1].timestamp and newest.consumption == busy[-1].power
    assert len(feed.samples.ring(BUSY)) == 5 + len(busy)
    assert len(feed.samples.ring(QUIET)) == 5

    # Both homes go on: each gets its own new rows.
    late = FIXED_NOW - timedelta(seconds=10)
    await store.upsert_live([LiveMeasurement(QUIET, late, power=7.0), LiveMeasurement(BUSY, late, power=8.0)])
    await feed.load(store, homes, WINDOW_START, FIXED_NOW, from_events=False)
    quiet, busy_latest = feed.samples.latest(QUIET), feed.samples.latest(BUSY)
    assert quiet is not None and (quiet.timestamp, quiet.consumption) == (late, 7.0)
    assert busy_latest is not None and (busy_latest.timestamp, busy_latest.consumption) == (late, 8.0)


async def test_live_after_reads_each_home_from_its_own_instant(store: Store) -> None:
    second = timedelta(seconds=1)
    await store.upsert_live(_rows("a", 0, 10, second, 0.0) + _rows("b", 0, 10, second, 100.0))
    start = WINDOW_START + timedelta(minutes=5)
    rows = await store.live_after({"a": start + 7 * second, "b": start + 2 * second})
    assert [(r.home_id, r.power) for r in rows if r.home_id == "a"] == [("a", 8.0), ("a", 9.0)]
    assert [r.power for r in rows if r.home_id == "b"] == [float(100 + i) for i in range(3, 10)]
    assert [r.timestamp for r in rows] == sorted(r.timestamp for r in rows)  # oldest first
    assert len(await store.live_after({"a": start - second, "b": start - second}, limit=4)) == 4
    assert await store.live_after({}) == []
    assert await store.live_after({"c": start - second}) == []  # a home without rows
