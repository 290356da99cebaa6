"""HistoryLoader: hourly consumption and production of all homes of a token.

First the gap since the newest row in the database is closed (at ``Priority.RECENT``), then the history is
backfilled newest to oldest, continuing below the oldest row the database holds, until the API has no more
or ``history_limit_days`` is reached (at ``Priority.BACKFILL``, the budget's lowest). Afterwards the trailing
window (Tibber revises recent hours, and leaves them null until it has them) is re-read every hour with
jitter. Each page is ONE request carrying every home of the token and both series. Null nodes are stored as
NULL rows, never as zero, and the upsert fills them when a later read brings the value.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from tibber_tui.collector.backoff import Backoff, jittered
from tibber_tui.collector.events import LoaderState, RowsWritten
from tibber_tui.collector.token_collector import LoaderGaveUp, TokenCollector, TokenLoader
from tibber_tui.errors import describe
from tibber_tui.tibber.budget import Priority
from tibber_tui.tibber.errors import ApiBug, InvalidToken, RateLimited
from tibber_tui.tibber.models import HistoryPage, HistoryRequest, Home

if TYPE_CHECKING:
    from tibber_tui.tibber.client import TibberClient

log = logging.getLogger(__name__)

PAGE_HOURS = 744
"""Tibber's cap of hourly nodes per request."""


@dataclass(slots=True)
class _Cursor:
    home: Home
    before: datetime | None
    """Page ends before this instant; None = the newest data."""
    stop_at: datetime | None
    """Stop once a page starts at or before this instant; None = until the API has no more."""


class HistoryLoader(TokenLoader):
    """Backfills and then keeps current the consumption and production of one token's homes."""

    def __init__(self, collector: TokenCollector, client: TibberClient) -> None:
        super().__init__(collector, client)
        self.requests = 0

    def _loaders(self, home: Home) -> list[Literal["consumption", "production"]]:
        return ["consumption", "production"] if home.has_production else ["consumption"]

    def _status(self, home: Home, state: LoaderState, **kwargs: object) -> None:
        for loader in self._loaders(home):
            self.ctx.status.update(self.token_id, home.id, loader, state=state, **kwargs)  # type: ignore[arg-type]

    async def run(self) -> None:
        try:
            await self._run()
        except LoaderGaveUp:
            return

    async def _run(self) -> None:
        config, timings = self.ctx.config, self.ctx.timings
        trailing = timedelta(hours=config.trailing_window_hours)
        homes = list(self.collector.homes)
        recent: list[_Cursor] = []
        backfill: list[_Cursor] = []
        for home in homes:
            oldest, newest = await self._bounds(home)
            limit = self._limit()
            if newest is None:
                backfill.append(_Cursor(home, None, limit))
            else:
                recent.append(_Cursor(home, None, newest - trailing))
                if limit is None or oldest is None or oldest > limit:
                    backfill.append(_Cursor(home, oldest, limit))
        # Close the gap since the last run first: recent data matters more than deep history.
        if recent:
            await self._page_back(recent, Priority.RECENT, "running")
        if backfill:
            await self._page_back(backfill, Priority.BACKFILL, "backfilling")
        while True:
            delay = jittered(timings.history_refresh, timings.jitter)
            next_run = self.ctx.clock() + timedelta(seconds=delay)
            for home in self.collector.homes:
                self._status(home, "waiting", next_run=next_run)
            await asyncio.sleep(delay)
            start = self.ctx.clock() - trailing
            await self._page_back([_Cursor(h, None, start) for h in self.collector.homes], Priority.RECENT, "running")

    def _limit(self) -> datetime | None:
        days = self.ctx.config.history_limit_days
        return self.ctx.clock() - timedelta(days=days) if days else None

    async def _bounds(self, home: Home) -> tuple[datetime | None, datetime | None]:
        backoff = Backoff(self.ctx.timings.retry_base, self.ctx.timings.retry_cap)
        while True:
            try:
                return await self.ctx.store.history_bounds(home.id, "consumption")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.failure()
                self._status(home, "backing_off", error=f"database: {describe(exc)}")
                await asyncio.sleep(delay)

    def _page_size(self, cursor: _Cursor) -> int:
        if cursor.stop_at is None:
            return PAGE_HOURS
        end = cursor.before or self.ctx.clock()
        hours = int((end - cursor.stop_at).total_seconds() // 3600) + 1
        return max(1, min(PAGE_HOURS, hours))

    async def _page_back(self, cursors: list[_Cursor], priority: Priority, state: LoaderState) -> None:
        """Page every cursor backwards until it reaches ``stop_at`` or the API has no more."""
        active = {c.home.id: c for c in cursors}
        for cursor in cursors:
            self._status(cursor.home, state, next_run=None)
        while active:
            requests = [
                HistoryRequest(
                    home_id=c.home.id, before=c.before, last=self._page_size(c), production=c.home.has_production
                )
                for c in active.values()
            ]
            pages = await self._fetch(requests, priority, list(active.values()))
            for home_id, cursor in list(active.items()):
                page = pages.get(home_id)
                if page is None:
                    del active[home_id]
                    continue
                await self._store(cursor.home, page)
                start = page.consumption_start
                finished = not page.consumption or not page.has_previous or start is None
                reached = start is not None and cursor.stop_at is not None and start <= cursor.stop_at
                # The API not moving back would loop on the same page forever: treat it as the end.
                stuck = start is not None and cursor.before is not None and start >= cursor.before
                if finished or reached or stuck:
                    del active[home_id]
                else:
                    cursor.before = start
        for cursor in cursors:
            self._status(cursor.home, "running", success=True)

    async def _fetch(
        self, requests: list[HistoryRequest], priority: Priority, cursors: list[_Cursor]
    ) -> dict[str, HistoryPage]:
        backoff = Backoff(self.ctx.timings.retry_base, self.ctx.timings.retry_cap)
        while True:
            try:
                self.requests += 1
                return await self.client.history(requests, priority)
            except (InvalidToken, asyncio.CancelledError):
                raise
            except RateLimited as exc:
                delay = jittered(exc.retry_after, self.ctx.timings.jitter)
                error = f"rate limited; waiting {delay:.0f} s"
            except ApiBug as exc:
                for cursor in cursors:
                    self._status(cursor.home, "failed", error=describe(exc))
                self.collector.say("error", f"history query refused, history loader stopped: {describe(exc)}")
                raise LoaderGaveUp from exc
            except Exception as exc:
                delay = backoff.failure()
                error = f"{describe(exc)}; retrying in {delay:.1f} s"
            next_run = self.ctx.clock() + timedelta(seconds=delay)
            for cursor in cursors:
                self._status(cursor.home, "backing_off", error=error, next_run=next_run)
            await asyncio.sleep(delay)

    async def _store(self, home: Home, page: HistoryPage) -> None:
        for problem in page.errors:
            self.collector.say("warning", f"history of home {home.id}: {problem}")
        backoff = Backoff(self.ctx.timings.retry_base, self.ctx.timings.retry_cap)
        while True:
            try:
                consumption = await self.ctx.store.upsert_consumption(home.id, page.consumption)
                production = 0
                if page.production is not None and home.has_production:
                    production = await self.ctx.store.upsert_production(home.id, page.production)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database is away: keep the page and try again, the API need not be asked twice.
                delay = backoff.failure()
                self._status(home, "backing_off", error=f"database: {describe(exc)}")
                await asyncio.sleep(delay)
        error: str | None = str(page.errors[0]) if page.errors else None
        self.ctx.status.update(self.token_id, home.id, "consumption", rows=consumption, success=True, error=error)
        if consumption:
            self.ctx.sink.emit(RowsWritten(self.token_id, home.id, "consumption", consumption))
        if home.has_production:
            self.ctx.status.update(self.token_id, home.id, "production", rows=production, success=True, error=error)
            if production:
                self.ctx.sink.emit(RowsWritten(self.token_id, home.id, "production", production))
