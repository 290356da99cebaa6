"""LeaseKeeper: renews this instance's token leases and heartbeat, and gives up a token before its lease expires.

A lease is confirmed until ``sent + ttl`` where ``sent`` is the local (monotonic) time the claim or renewal
was *sent*: the database set ``expires_at = now() + ttl`` no earlier than that, so the local deadline is
never later than the real one, whatever the clocks. If renewals keep failing, the token is given up at
``sent + ttl - stop_budget`` (1 to 3 s before expiry), early enough for its collectors to stop before
another instance may take it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from tibber_tui.collector.events import DatabaseStateChanged, EventSink
from tibber_tui.db import leases as lease_sql
from tibber_tui.errors import describe

log = logging.getLogger(__name__)


@dataclass(slots=True)
class HeldLease:
    token_id: int
    generation: int
    confirmed_until: float
    """Local monotonic time until which the lease is certainly ours."""


def _lease_clock() -> Callable[[], float]:
    """Seconds that keep counting while the machine is suspended (Linux ``CLOCK_BOOTTIME``).

    The event loop's monotonic clock stops during a suspend: a laptop waking up would believe its leases were
    still good while the database had long expired them and another instance collected the tokens.
    """
    if hasattr(time, "CLOCK_BOOTTIME"):
        return functools.partial(time.clock_gettime, time.CLOCK_BOOTTIME)
    return time.monotonic


class LeaseKeeper:
    """Keeps the leases of the tokens this instance collects, and its ``instances`` heartbeat."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        instance_id: uuid.UUID,
        sink: EventSink,
        *,
        ttl: float,
        renew: float,
        on_lost: Callable[[int, str], None],
        register: Callable[[], object] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.pool = pool
        self.instance_id = instance_id
        self.sink = sink
        self.ttl = ttl
        self.renew = renew
        # Give up early enough to stop the token's collectors (about a second) before the lease can expire:
        # with the defaults (ttl 15 s, renew 5 s) two renewals may fail before the token is stopped.
        self.stop_budget = min(max(ttl / 3, 1.0), 3.0, ttl / 2)
        self.on_lost = on_lost
        self.register = register
        self._clock = clock or _lease_clock()
        self.held: dict[int, HeldLease] = {}
        self.db_ok = True

    def now(self) -> float:
        return self._clock()

    def add(self, lease: lease_sql.Lease, sent_at: float) -> None:
        """A claim succeeded: keep renewing it."""
        self.held[lease.token_id] = HeldLease(lease.token_id, lease.generation, sent_at + self.ttl)

    def remove(self, token_id: int) -> None:
        self.held.pop(token_id, None)

    async def run(self) -> None:
        """Renew every ``renew`` seconds until cancelled; a watcher gives up leases on time meanwhile."""
        watcher = asyncio.create_task(self._watch(), name="lease-watch")
        try:
            while True:
                started = self.now()
                await self.tick()
                await asyncio.sleep(max(0.0, self.renew - (self.now() - started)))
        finally:
            watcher.cancel()

    async def _watch(self) -> None:
        # Independent of the renewal loop, which may hang on a dead connection for a while.
        while True:
            self._expire_overdue()
            await asyncio.sleep(min(0.1, self.renew / 4))

    async def tick(self) -> None:
        """One heartbeat + renewal round; never raises for database trouble."""
        sent_at = self.now()
        generations = {t: h.generation for t, h in self.held.items()}
        try:
            async with asyncio.timeout(max(self.renew * 0.8, 0.2)):
                alive = await lease_sql.heartbeat(self.pool, self.instance_id)
                if not alive and self.register is not None:
                    await self.register()  # type: ignore[misc]
                confirmed = await lease_sql.renew_leases(self.pool, self.instance_id, generations, self.ttl)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.db_ok:
                self.db_ok = False
                self.sink.emit(DatabaseStateChanged(False, f"lease renewal failed: {describe(exc)}"))
            log.debug("lease renewal failed", exc_info=True)
            return
        if not self.db_ok:
            self.db_ok = True
            self.sink.emit(DatabaseStateChanged(True, "leases renewed"))
        for token_id, generation in generations.items():
            held = self.held.get(token_id)
            if held is None or held.generation != generation:
                continue  # released or re-claimed meanwhile
            if token_id in confirmed:
                held.confirmed_until = sent_at + self.ttl
            else:
                # The database answered without our lease: taken over, or the token row is gone.
                self.held.pop(token_id, None)
                self.on_lost(token_id, "lease lost to another instance")

    def _expire_overdue(self) -> None:
        now = self.now()
        for token_id, held in list(self.held.items()):
            if now >= held.confirmed_until - self.stop_budget:
                self.held.pop(token_id, None)
                self.on_lost(token_id, "lease renewal not confirmed in time")
