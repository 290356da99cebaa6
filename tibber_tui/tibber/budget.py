"""One process-wide budget of Tibber API requests, handed out by priority.

Tibber allows about 100 requests per 5 minutes per IP and bans the IP for ~10 minutes when that is
exceeded (FACTS §6). Every HTTP request and websocket upgrade of every token of this process first
takes a slot here: at most ``limit`` slots in any sliding ``window`` seconds, the most urgent work first
(live connects, then prices, then recent history, then deep backfill), FIFO within one priority.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Priority(IntEnum):
    """Lower value = served first."""

    LIVE = 0
    PRICES = 1
    RECENT = 2
    BACKFILL = 3


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    """The budget at one instant, for the dashboard and the ``BudgetChanged`` event."""

    used: int
    """Requests sent in the last ``window`` seconds, plus those still in flight."""
    limit: int
    window: float
    queued: dict[Priority, int] = field(default_factory=dict)
    """Callers waiting for a slot, by priority."""
    eta_seconds: float | None = None
    """Seconds until every queued caller has had its slot; None when nobody waits."""
    blocked_for: float = 0.0
    """Seconds left of a penalty after a 429 (nobody sends meanwhile)."""

    @property
    def queued_total(self) -> int:
        return sum(self.queued.values())


@dataclass(slots=True)
class _Waiter:
    priority: Priority
    seq: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    done: bool = False

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.seq) < (other.priority, other.seq)


class RateBudget:
    """A sliding-window request budget shared by all ``TibberClient``s of a process."""

    def __init__(self, limit: int = 80, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("the rate budget needs a limit of at least 1 request")
        if window <= 0:
            raise ValueError("the rate budget window must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: deque[float] = deque()  # send times within the window, oldest first
        self._queue: list[_Waiter] = []  # heap: (priority, arrival)
        self._seq = itertools.count()
        self._blocked_until = float("-inf")
        self._in_flight = 0
        self.total_sent = 0
        """Slots handed out since start (for benchmarks and tests)."""

    # -- the public API -------------------------------------------------------------------------

    async def acquire(self, priority: Priority) -> None:
        """Wait until a request may be sent, then count it as sent now. The most urgent caller goes first."""
        await self._acquire(priority, in_flight=False)

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority) -> AsyncIterator[None]:
        """``acquire`` for a request in progress: its slot counts from when the request ENDS.

        The server sees the request somewhere between our send and its answer; timing the slot from the
        answer means network delays can never squeeze ``limit + 1`` requests into Tibber's window.
        """
        await self._acquire(priority, in_flight=True)
        try:
            yield
        finally:
            self._in_flight -= 1
            self._sent.append(self._clock())
            self._wake_head()

    async def _acquire(self, priority: Priority, *, in_flight: bool) -> None:
        waiter = _Waiter(Priority(priority), next(self._seq))
        heapq.heappush(self._queue, waiter)
        try:
            while True:
                delay: float | None
                if self._queue[0] is waiter:
                    delay = self._delay()
                    if delay is not None and delay <= 0:
                        heapq.heappop(self._queue)
                        waiter.done = True
                        self.total_sent += 1
                        if in_flight:
                            self._in_flight += 1
                        else:
                            self._sent.append(self._clock())
                        self._wake_head()
                        return
                else:
                    delay = None  # not our turn: wait until the head hands over
                waiter.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wake.wait(), delay)
        finally:
            if not waiter.done:  # cancelled while waiting: leave the queue, let the next one look
                self._queue.remove(waiter)
                heapq.heapify(self._queue)
                self._wake_head()

    def penalize(self, seconds: float) -> None:
        """After a 429: nobody sends for ``seconds``."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(seconds, 0.0))
        self._wake_head()

    def snapshot(self) -> BudgetSnapshot:
        now = self._clock()
        self._expire(now)
        queued: dict[Priority, int] = {}
        for waiter in self._queue:
            queued[waiter.priority] = queued.get(waiter.priority, 0) + 1
        return BudgetSnapshot(
            used=len(self._sent) + self._in_flight,
            limit=self.limit,
            window=self.window,
            queued=queued,
            eta_seconds=self.eta(),
            blocked_for=max(0.0, self._blocked_until - now),
        )

    def eta(self, extra_requests: int = 0) -> float | None:
        """Seconds until the queued callers plus ``extra_requests`` more have all been served; None if none."""
        pending = len(self._queue) + max(extra_requests, 0)
        if pending == 0:
            return None
        now = self._clock()
        self._expire(now)
        # Replay the window forward: send k may go once send k-limit has left the window
        # (requests in flight count as if they ended now).
        sends = list(self._sent) + [now] * self._in_flight
        start = len(sends)
        floor = max(now, self._blocked_until)
        last = floor
        for k in range(start, start + pending):
            last = max(floor, sends[k - self.limit] + self.window) if k >= self.limit else floor
            sends.append(last)
        return last - now

    # -- internals --------------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    def _delay(self) -> float | None:
        """Seconds until one more request may go (<= 0: now; None: when a request in flight ends)."""
        now = self._clock()
        self._expire(now)
        delay = self._blocked_until - now
        excess = len(self._sent) + self._in_flight - self.limit  # how many must leave the window first
        if excess >= 0:
            if excess >= len(self._sent):
                return None
            delay = max(delay, self._sent[excess] + self.window - now)
        return delay

    def _wake_head(self) -> None:
        if self._queue:
            self._queue[0].wake.set()
