"""BatchWriter: live frames of every home of this process into PostgreSQL, in batches, surviving DB loss.

Frames are queued per home and written with one set-based upsert every ``flush_interval`` seconds, or
sooner when ``flush_rows`` are pending. When a write fails (database gone) the rows go back into the
queue and are written after reconnect; each home keeps at most ``buffer_seconds`` of data, older frames
are dropped and counted in a warning. Upserts are idempotent, so a batch that reached the database
just before the connection died is harmless when written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from tibber_tui.collector.events import DatabaseStateChanged, EventSink, LogMessage, RowsWritten
from tibber_tui.db.store import Store
from tibber_tui.errors import describe
from tibber_tui.tibber.models import LiveMeasurement

log = logging.getLogger(__name__)

WrittenCallback = Callable[[int, str, int], None]
"""Called after a successful write with (token_id, home_id, rows)."""


class BatchWriter:
    """One per process: queues live rows per home and writes them in batches."""

    def __init__(
        self,
        store: Store,
        sink: EventSink,
        *,
        flush_interval: float = 1.0,
        flush_rows: int = 2000,
        buffer_seconds: float = 3600.0,
        on_written: WrittenCallback | None = None,
        drop_report_interval: float = 10.0,
    ) -> None:
        self.store = store
        self.sink = sink
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self.buffer = timedelta(seconds=buffer_seconds)
        self.on_written = on_written
        self.drop_report_interval = drop_report_interval
        self._pending: dict[str, deque[LiveMeasurement]] = {}
        self._token_of: dict[str, int] = {}
        self._count = 0
        self._dropped: dict[str, int] = {}
        self._dropped_total = 0
        self._last_drop_report = 0.0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._db_ok = True
        self.rows_written = 0
        """Rows handed to the database successfully since start."""

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return self._count

    @property
    def dropped(self) -> int:
        """Rows dropped because a home's buffer exceeded its bound while the database was away."""
        return self._dropped_total

    def add(self, token_id: int, row: LiveMeasurement) -> None:
        """Queue a frame; never blocks and never fails."""
        queue = self._pending.get(row.home_id)
        if queue is None:
            queue = self._pending[row.home_id] = deque()
        self._token_of[row.home_id] = token_id
        queue.append(row)
        self._count += 1
        self._trim(row.home_id, queue)
        if self._count >= self.flush_rows:
            self._wake.set()

    def _trim(self, home_id: str, queue: deque[LiveMeasurement]) -> None:
        # Bound by the span of data, not the row count: "an hour of data" whatever the frame rate.
        newest = queue[-1].timestamp
        limit = newest - self.buffer
        dropped = 0
        while queue and queue[0].timestamp < limit:
            queue.popleft()
            dropped += 1
        if dropped:
            self._count -= dropped
            self._dropped[home_id] = self._dropped.get(home_id, 0) + dropped
            self._dropped_total += dropped

    async def run(self) -> None:
        """Flush periodically until cancelled (a final flush is the caller's job: ``close``)."""
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            await self.flush()
            self._report_drops(loop.time())

    async def flush(self, home_ids: Iterable[str] | None = None) -> bool:
        """Write pending rows (all, or of these homes). False when the database refused; rows stay queued."""
        async with self._lock:
            homes = list(self._pending) if home_ids is None else [h for h in home_ids if h in self._pending]
            batch: dict[str, list[LiveMeasurement]] = {}
            for home in homes:
                queue = self._pending.get(home)
                if queue:
                    batch[home] = list(queue)
                    queue.clear()
            taken = sum(len(rows) for rows in batch.values())
            if not taken:
                return True
            self._count -= taken
            rows = [row for home_rows in batch.values() for row in home_rows]
            try:
                await self.store.upsert_live(rows)
            except asyncio.CancelledError:
                self._requeue(batch)
                raise
            except Exception as exc:
                self._requeue(batch)
                if self._db_ok:
                    self._db_ok = False
                    self.sink.emit(DatabaseStateChanged(False, f"live rows kept in memory: {describe(exc)}"))
                log.debug("live flush failed", exc_info=True)
                return False
            if not self._db_ok:
                self._db_ok = True
                self.sink.emit(DatabaseStateChanged(True, f"live rows written again ({taken} queued rows)"))
            self.rows_written += taken
            now = datetime.now(UTC)
            for home, home_rows in batch.items():
                token_id = self._token_of.get(home, 0)
                self.sink.emit(RowsWritten(token_id, home, "real_time_measurements", len(home_rows), at=now))
                if self.on_written is not None:
                    self.on_written(token_id, home, len(home_rows))
            return True

    def _requeue(self, batch: dict[str, list[LiveMeasurement]]) -> None:
        # Older rows go back in front of anything that arrived during the failed write.
        for home, rows in batch.items():
            queue = self._pending.setdefault(home, deque())
            queue.extendleft(reversed(rows))
            self._count += len(rows)
            self._trim(home, queue)

    def _report_drops(self, now: float) -> None:
        if not self._dropped or now - self._last_drop_report < self.drop_report_interval:
            return
        self._last_drop_report = now
        for home, count in sorted(self._dropped.items()):
            self.sink.emit(
                LogMessage(
                    "warning",
                    f"database unreachable: dropped the {count} oldest live rows of home {home} "
                    f"(buffer keeps {self.buffer.total_seconds():.0f} s per home)",
                    token_id=self._token_of.get(home),
                )
            )
        self._dropped.clear()

    async def close(self, deadline: float = 2.0) -> None:
        """Final flush within ``deadline`` seconds; rows that cannot be written are reported as lost."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), deadline)
        self._report_drops(float("inf"))
        if self._count:
            self.sink.emit(
                LogMessage("error", f"shutting down with {self._count} live rows not written (database unreachable)")
            )
