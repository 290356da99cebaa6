"""PriceLoader: today's and tomorrow's 15-minute prices of a token's homes, and a configurable history.

Today and tomorrow come in ONE request for all homes at ``Priority.PRICES``. Tomorrow is published around
13:00 local time (often later): until it arrives the loader asks again every ``price_poll`` seconds after the
publish time, then sleeps until the next day's publish time. Past prices never change, so the history
(``price_history_days``, via ``priceInfoRange``) is loaded once per start at ``Priority.BACKFILL``, and only
what the database lacks: older than the oldest stored price, and the gap between the newest stored price and
today when the program was off for days (``missing_price_ranges``). A start with the depth covered asks nothing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from tibber_tui.collector.backoff import Backoff, jittered
from tibber_tui.collector.events import LoaderState, RowsWritten
from tibber_tui.collector.token_collector import LoaderGaveUp, TokenLoader
from tibber_tui.errors import describe
from tibber_tui.tibber.budget import Priority
from tibber_tui.tibber.errors import ApiBug, InvalidToken, RateLimited
from tibber_tui.tibber.models import Home, Price

if TYPE_CHECKING:
    pass

T = TypeVar("T")

RANGE_PAGE = 672
"""Tibber's cap of quarter-hours per ``priceInfoRange`` request (7 days)."""


def next_price_run(
    homes: Sequence[Home], has_tomorrow: Mapping[str, bool], now: datetime, publish: time, poll: float
) -> datetime:
    """When to ask again: the earliest of every home's next publish time, or ``poll`` seconds if it is overdue."""
    candidates: list[datetime] = []
    for home in homes:
        try:
            zone = ZoneInfo(home.time_zone)
        except (KeyError, ValueError):
            zone = ZoneInfo("UTC")
        local = now.astimezone(zone)
        published_today = datetime.combine(local.date(), publish, zone)
        if has_tomorrow.get(home.id, False):
            candidates.append(datetime.combine(local.date() + timedelta(days=1), publish, zone))
        elif local < published_today:
            candidates.append(published_today)
        else:
            candidates.append(now + timedelta(seconds=poll))
    return min(candidates) if candidates else now + timedelta(seconds=poll)


PriceBounds = tuple[datetime | None, datetime | None]
"""Oldest and newest stored ``startsAt`` of a home (``Store.price_bounds``)."""

COVERED_SLOT = timedelta(hours=1)
"""A stored price covers at least the next hour: the newest one closer than this to today leaves no gap."""


def missing_price_ranges(
    bounds: Mapping[str, PriceBounds], today: datetime, depth_start: datetime
) -> list[tuple[datetime, datetime]]:
    """The ``(older, newer)`` ranges of price history to fetch for all homes together, newest range first.

    ``today`` is where today's prices begin, ``depth_start`` how far back the history goes. One request serves
    all homes, so the least covered home decides: the newest price of the least recent home (a gap up to today)
    and the oldest of the least deep one (history still missing). Holes inside the stored range are not seen.
    """
    if today <= depth_start:
        return []
    if not bounds or any(oldest is None or newest is None for oldest, newest in bounds.values()):
        return [(depth_start, today)]
    least_recent = min(newest for _, newest in bounds.values() if newest is not None)
    least_deep = max(oldest for oldest, _ in bounds.values() if oldest is not None)
    ranges: list[tuple[datetime, datetime]] = []
    if least_recent + COVERED_SLOT < today:
        ranges.append((max(least_recent, depth_start), today))
    if least_deep > depth_start:
        older_end = min(least_deep, today)
        if ranges and ranges[0][0] <= older_end:
            return [(depth_start, today)]  # the two ranges touch: one walk from today back
        ranges.append((depth_start, older_end))
    return ranges


class PriceLoader(TokenLoader):
    """Keeps today/tomorrow prices current and loads the price history once."""

    def _status(self, state: LoaderState, **kwargs: Any) -> None:
        for home in self.collector.homes:
            self.ctx.status.update(self.token_id, home.id, "prices", state=state, **kwargs)

    async def run(self) -> None:
        try:
            await self._run()
        except LoaderGaveUp:
            return

    async def _run(self) -> None:
        timings = self.ctx.timings
        history_loaded = False
        while True:
            homes = list(self.collector.homes)
            if not homes:
                return
            self._status("running")
            ids = [h.id for h in homes]
            days = await self._call(lambda ids=ids: self.client.prices(ids, Priority.PRICES))
            load_history = not history_loaded and self.ctx.config.price_history_days > 0
            # Read before today's rows go in, so that a gap between the stored history and today shows.
            stored = {home.id: await self._bounds(home.id) for home in homes} if load_history else {}
            has_tomorrow: dict[str, bool] = {}
            oldest: datetime | None = None
            for home in homes:
                day = days.get(home.id)
                if day is None:
                    continue
                rows = [*day.today, *day.tomorrow]
                has_tomorrow[home.id] = bool(day.tomorrow)
                await self._store(home.id, rows)
                if day.today:
                    first = min(p.starts_at for p in day.today)
                    oldest = first if oldest is None else min(oldest, first)
            if load_history:
                await self._load_history(homes, oldest or self.ctx.clock(), stored)
                history_loaded = True
            now = self.ctx.clock()
            target = next_price_run(homes, has_tomorrow, now, timings.price_publish, timings.price_poll)
            delay = jittered(max(1.0, (target - now).total_seconds()), timings.jitter / 10)
            self._status("waiting", success=True, error=None, next_run=now + timedelta(seconds=delay))
            await asyncio.sleep(delay)

    async def _load_history(self, homes: list[Home], today: datetime, stored: Mapping[str, PriceBounds]) -> None:
        depth_start = today - timedelta(days=self.ctx.config.price_history_days)
        ranges = missing_price_ranges(stored, today, depth_start)
        if ranges:
            self._status("backfilling")
        for stop_at, before in ranges:
            await self._load_range([h.id for h in homes], before, stop_at)

    async def _load_range(self, ids: list[str], before: datetime, stop_at: datetime) -> None:
        """Pages backwards from ``before`` until ``stop_at`` or the start of the API's history."""
        while before > stop_at:
            last = max(1, min(RANGE_PAGE, math.ceil((before - stop_at).total_seconds() / 900)))
            pages = await self._call(
                lambda b=before, n=last: self.client.price_range(ids, before=b, last=n, priority=Priority.BACKFILL)
            )
            starts: list[datetime] = []
            more = False
            for home_id, page in pages.items():
                if home_id in ids and page.prices:
                    await self._store(home_id, page.prices)
                    starts.append(min(p.starts_at for p in page.prices))
                    more = more or page.has_previous
            if not starts or not more or min(starts) >= before:
                return
            before = min(starts)

    async def _call(self, request: Any) -> Any:
        backoff = Backoff(self.ctx.timings.retry_base, self.ctx.timings.retry_cap)
        while True:
            try:
                return await request()
            except (InvalidToken, asyncio.CancelledError):
                raise
            except RateLimited as exc:
                delay = jittered(exc.retry_after, self.ctx.timings.jitter)
                error = f"rate limited; waiting {delay:.0f} s"
            except ApiBug as exc:
                self._status("failed", error=describe(exc))
                self.collector.say("error", f"price query refused, price loader stopped: {describe(exc)}")
                raise LoaderGaveUp from exc
            except Exception as exc:
                delay = backoff.failure()
                error = f"{describe(exc)}; retrying in {delay:.1f} s"
            self._status("backing_off", error=error, next_run=self.ctx.clock() + timedelta(seconds=delay))
            await asyncio.sleep(delay)

    async def _bounds(self, home_id: str) -> PriceBounds:
        backoff = Backoff(self.ctx.timings.retry_base, self.ctx.timings.retry_cap)
        while True:
            try:
                return await self.ctx.store.price_bounds(home_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ctx.status.update(
                    self.token_id, home_id, "prices", state="backing_off", error=f"database: {describe(exc)}"
                )
                await asyncio.sleep(backoff.failure())

    async def _store(self, home_id: str, prices: Sequence[Price]) -> None:
        if not prices:
            return
        backoff = Backoff(self.ctx.timings.retry_base, self.ctx.timings.retry_cap)
        while True:
            try:
                count = await self.ctx.store.upsert_prices(home_id, prices)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.failure()
                self.ctx.status.update(
                    self.token_id, home_id, "prices", state="backing_off", error=f"database: {describe(exc)}"
                )
                await asyncio.sleep(delay)
        self.ctx.status.update(self.token_id, home_id, "prices", rows=count, success=True)
        if count:
            self.ctx.sink.emit(RowsWritten(self.token_id, home_id, "prices", count))
