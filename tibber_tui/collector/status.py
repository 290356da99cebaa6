"""Loader status per home and loader: kept in memory, sent as events, written to ``loader_status`` coalesced.

Every loader reports here as often as it likes; the database sees a row at most every ``interval`` seconds
per (home, loader), and only when something changed; all changed rows of a tick go in one statement, so 1,000
streaming homes cost one write every ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tibber_tui.collector.events import EventSink, LoaderName, LoaderState, LoaderStateChanged
from tibber_tui.db.store import Store

log = logging.getLogger(__name__)

_UNSET: object = object()


@dataclass(frozen=True, slots=True)
class LoaderStatus:
    token_id: int
    home_id: str
    loader: LoaderName
    state: LoaderState = "starting"
    rows_written: int = 0
    last_success: datetime | None = None
    next_run: datetime | None = None
    last_error: str | None = None


class StatusReporter:
    """Collects loader statuses, emits ``LoaderStateChanged`` and writes ``loader_status`` rows."""

    def __init__(
        self,
        sink: EventSink,
        owner: str,
        *,
        interval: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sink = sink
        self.owner = owner
        self.interval = interval
        self.clock = clock
        self.store: Store | None = None
        self._status: dict[tuple[str, str], LoaderStatus] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._quiet: set[tuple[str, str]] = set()
        """Keys whose only change is a row count: their event waits for the next tick."""

    def get(self, home_id: str, loader: str) -> LoaderStatus | None:
        return self._status.get((home_id, loader))

    def update(
        self,
        token_id: int,
        home_id: str,
        loader: LoaderName,
        *,
        state: LoaderState | None = None,
        rows: int = 0,
        success: bool = False,
        next_run: datetime | object | None = _UNSET,
        error: str | object | None = _UNSET,
    ) -> None:
        """Record a change; a new state or error is emitted at once, row counts at the next tick."""
        key = (home_id, loader)
        old = self._status.get(key) or LoaderStatus(token_id, home_id, loader)
        new = replace(
            old,
            token_id=token_id,
            state=state or old.state,
            rows_written=old.rows_written + rows,
            last_success=self.clock() if success else old.last_success,
            next_run=old.next_run if next_run is _UNSET else next_run,  # type: ignore[arg-type]
            last_error=old.last_error if error is _UNSET else error,  # type: ignore[arg-type]
        )
        known = key in self._status
        if new == old and known:
            return
        self._status[key] = new
        self._dirty.add(key)
        if not known or (new.state, new.last_error, new.next_run) != (old.state, old.last_error, old.next_run):
            self._quiet.discard(key)
            self._emit(new)
        else:
            self._quiet.add(key)

    def stopped(self, token_id: int, home_ids: list[str]) -> None:
        """Every loader of these homes is stopped (token deactivated, deleted or its lease lost)."""
        for (home, _loader), status in list(self._status.items()):
            if home in home_ids and status.token_id == token_id:
                self.update(token_id, home, status.loader, state="stopped", next_run=None)

    def _emit(self, s: LoaderStatus) -> None:
        self.sink.emit(
            LoaderStateChanged(
                s.token_id,
                s.home_id,
                s.loader,
                s.state,
                rows_written=s.rows_written,
                last_success=s.last_success,
                next_run=s.next_run,
                last_error=s.last_error,
            )
        )

    async def run(self) -> None:
        """Write changed rows every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            for key in list(self._quiet):
                self._emit(self._status[key])
            self._quiet.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every changed status now; failures keep them dirty for the next try."""
        store = self.store
        if store is None or not self._dirty:
            return
        keys = list(self._dirty)
        self._dirty.clear()
        rows = [
            (
                s.home_id,
                s.loader,
                s.token_id,
                s.state,
                s.rows_written,
                s.last_success,
                s.next_run,
                s.last_error,
                self.owner,
            )
            for s in (self._status[key] for key in keys)
        ]
        try:
            await store.set_loader_statuses(rows)  # one round trip per tick, however many homes
        except asyncio.CancelledError:
            self._dirty.update(keys)
            raise
        except Exception:
            # The database is away (the manager reports that); everything stays dirty for the next tick.
            self._dirty.update(keys)
            log.debug("loader status write failed", exc_info=True)
