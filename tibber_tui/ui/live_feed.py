"""Where the graph's samples come from: the collector's events or the database, kept in ring buffers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tibber_tui.db.store import Store
from tibber_tui.tibber.models import Home
from tibber_tui.ui.samples import PowerSample, SampleStore, downsample
from tibber_tui.ui.widgets.power_graph import GraphData

LIVE_PAGE = 5000
"""Live rows per database read when filling the buffers."""

LIVE_MAX_PAGES = 10
"""Pages of new rows read per refresh at most; the rest comes with the next refresh (from the buffers' newest)."""


class LiveFeed:
    """Ring buffers per home, filled from the database (history and new rows) and from live events."""

    def __init__(self) -> None:
        self.samples = SampleStore()
        self._loaded_since: dict[str, datetime] = {}

    async def load(
        self, store: Store, homes: Sequence[Home], window_start: datetime, now: datetime, *, from_events: bool
    ) -> None:
        """Backfill each home's window once (after start or a longer window), then read new rows.

        ``from_events``: the token is collected in this process, whose events feed the buffers; the database
        is then only read for the backfill, so the graph is not empty after a restart. Otherwise (collected
        elsewhere) the new rows of all homes come in one query per page, each home read from its own newest sample.
        """
        live_homes = [h.id for h in homes if h.realtime_enabled]
        backfill = [h for h in live_homes if self._loaded_since.get(h, now) > window_start]
        for home_id in backfill:
            ring = self.samples.ring(home_id)
            since = window_start
            while True:  # page through a long window (24 h of 2-second frames)
                rows = await store.live_since([home_id], since, limit=LIVE_PAGE)
                ring.merge(PowerSample(r.timestamp, r.power, r.power_production) for r in rows)
                if len(rows) < LIVE_PAGE:
                    break
                since = rows[-1].timestamp
            self._loaded_since[home_id] = window_start
        incremental = [h for h in live_homes if h not in backfill]
        if from_events or not incremental:
            return
        # Each home from its own newest sample: one shared "since" let a quiet home pin the read to the same
        # first page of a busy one. Rows older than the window are not shown, so no home starts before it.
        after: dict[str, datetime] = {}
        for home_id in incremental:
            latest = self.samples.latest(home_id)
            after[home_id] = max(latest.timestamp, window_start) if latest is not None else window_start
        for _ in range(LIVE_MAX_PAGES):  # bounded: a long gap is caught up over the next calls
            rows = await store.live_after(after, limit=LIVE_PAGE)
            for r in rows:
                self.samples.add(r.home_id, PowerSample(r.timestamp, r.power, r.power_production))
                after[r.home_id] = r.timestamp  # rows come oldest first: the page is a prefix of the order
            if len(rows) < LIVE_PAGE:
                break

    def graph_data(self, home_id: str, window: timedelta, end: datetime, columns: int) -> GraphData:
        """At most one (min, max) per column for both series, times in the zone of ``end``."""
        start = end - window
        samples = self.samples.ring(home_id).since(start)
        consumption = downsample([(s.timestamp, s.consumption) for s in samples], start, end, columns)
        production = downsample([(s.timestamp, s.production) for s in samples], start, end, columns)
        return GraphData(start, end, consumption, production)
