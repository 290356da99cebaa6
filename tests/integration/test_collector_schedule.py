"""Pure scheduling rules of the collector (no database, no network): price polling and retry backoff."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from tibber_tui.collector.backoff import Backoff
from tibber_tui.collector.prices import next_price_run
from tibber_tui.tibber.models import Address, Home

OSLO = ZoneInfo("Europe/Oslo")


def home(home_id: str, tz: str = "Europe/Oslo") -> Home:
    return Home(home_id, None, tz, Address(), True, False, None)


def test_prices_wait_for_publish_then_poll_then_next_day() -> None:
    publish, poll = time(13, 0), 900.0
    morning = datetime(2026, 3, 10, 10, 0, tzinfo=OSLO)
    assert next_price_run([home("a")], {"a": False}, morning, publish, poll) == datetime(
        2026, 3, 10, 13, 0, tzinfo=OSLO
    )
    late = datetime(2026, 3, 10, 15, 0, tzinfo=OSLO)
    assert next_price_run([home("a")], {"a": False}, late, publish, poll) == late + timedelta(seconds=poll)
    assert next_price_run([home("a")], {"a": True}, late, publish, poll) == datetime(2026, 3, 11, 13, 0, tzinfo=OSLO)


def test_prices_earliest_home_wins_across_time_zones_and_dst() -> None:
    # 2026-03-29 is the spring-forward day in Europe: 13:00 local is 11:00 UTC there, 12:00 UTC the day before.
    now = datetime(2026, 3, 28, 13, 30, tzinfo=OSLO)  # 12:30 in London: its 13:00 is still ahead
    homes = [home("oslo"), home("london", "Europe/London")]
    got = next_price_run(homes, {"oslo": True, "london": False}, now, time(13, 0), 900.0)
    assert got == datetime(2026, 3, 28, 13, 0, tzinfo=ZoneInfo("Europe/London"))
    assert got == datetime(2026, 3, 28, 14, 0, tzinfo=OSLO)
    both_done = next_price_run(homes, {"oslo": True, "london": True}, now, time(13, 0), 900.0)
    assert both_done == datetime(2026, 3, 29, 13, 0, tzinfo=OSLO)
    assert both_done.astimezone(ZoneInfo("UTC")).hour == 11


def test_backoff_grows_jittered_and_capped() -> None:
    backoff = Backoff(base=1.0, cap=10.0, rng=random.Random(3))
    delays = [backoff.failure() for _ in range(8)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(10.0, 2.0 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    backoff.success()
    assert backoff.failure() <= 1.0
