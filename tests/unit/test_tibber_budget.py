"""The process-wide rate budget: never over the limit, most urgent first, penalties, ETA."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from tibber_tui.tibber.budget import Priority, RateBudget


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_never_more_than_limit_in_any_window() -> None:
    budget = RateBudget(limit=5, window=0.3)
    sent: list[float] = []

    async def worker(priority: Priority) -> None:
        for _ in range(3):
            await budget.acquire(priority)
            sent.append(time.monotonic())

    await asyncio.wait_for(asyncio.gather(*(worker(Priority(i % 4)) for i in range(6))), 10)
    assert len(sent) == 18
    assert max_in_any_window(sent, 0.3) <= 5
    # and it is not simply slow: 18 requests at 5 per 0.3 s take ~0.9 s, not seconds
    assert sent[-1] - sent[0] < 3.0


async def test_most_urgent_first_and_fifo_within_a_priority() -> None:
    budget = RateBudget(limit=1, window=0.05)
    await budget.acquire(Priority.LIVE)  # the window is now full: everyone below queues
    order: list[tuple[Priority, int]] = []
    requests = [(Priority(p), n) for p in range(4) for n in range(3)]
    random.Random(7).shuffle(requests)
    arrival: dict[Priority, list[int]] = {p: [] for p in Priority}

    async def one(priority: Priority, n: int) -> None:
        await budget.acquire(priority)
        order.append((priority, n))

    tasks = []
    for priority, n in requests:
        arrival[priority].append(n)
        tasks.append(asyncio.create_task(one(priority, n)))
        await asyncio.sleep(0)  # make arrival order real
    snapshot = budget.snapshot()
    assert snapshot.queued == {p: 3 for p in Priority}
    assert snapshot.queued_total == 12
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert [p for p, _ in order] == sorted(p for p, _ in order)
    for priority in Priority:
        assert [n for p, n in order if p == priority] == arrival[priority]


async def test_penalty_stops_everyone() -> None:
    budget = RateBudget(limit=100, window=1.0)
    budget.penalize(0.3)
    started = time.monotonic()
    await budget.acquire(Priority.LIVE)
    assert time.monotonic() - started >= 0.28
    assert budget.snapshot().blocked_for == 0.0


async def test_cancelled_waiter_leaves_the_queue() -> None:
    budget = RateBudget(limit=1, window=0.2)
    await budget.acquire(Priority.BACKFILL)
    first = asyncio.create_task(budget.acquire(Priority.LIVE))
    second = asyncio.create_task(budget.acquire(Priority.BACKFILL))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.wait_for(second, 2)
    assert budget.snapshot().queued == {}
    assert budget.total_sent == 2


async def test_eta_replays_the_window() -> None:
    clock = FakeClock()
    budget = RateBudget(limit=2, window=10.0, clock=clock)
    assert budget.eta() is None
    await budget.acquire(Priority.PRICES)
    await budget.acquire(Priority.PRICES)  # both at t=1000
    clock.now = 1001.0
    # next sends: 1010, 1010, 1020 → the third is done 19 s from now
    assert budget.eta(extra_requests=3) == pytest.approx(19.0)
    assert budget.eta(extra_requests=1) == pytest.approx(9.0)
    budget.penalize(30.0)
    assert budget.eta(extra_requests=1) == pytest.approx(30.0)
    snap = budget.snapshot()
    assert (snap.used, snap.limit, snap.window) == (2, 2, 10.0)
    assert snap.blocked_for == pytest.approx(30.0)
    clock.now = 1011.0
    assert budget.snapshot().used == 0


def test_bad_limits_rejected() -> None:
    with pytest.raises(ValueError):
        RateBudget(limit=0)
    with pytest.raises(ValueError):
        RateBudget(window=0)


async def test_slot_counts_from_when_the_request_ends() -> None:
    clock = FakeClock()
    budget = RateBudget(limit=1, window=10.0, clock=clock)
    async with budget.slot(Priority.LIVE):
        assert budget.snapshot().used == 1
        waiting = asyncio.create_task(budget.acquire(Priority.LIVE))
        clock.now += 60.0  # a slow request: the window passes while it is in flight
        await asyncio.sleep(0.05)
        assert not waiting.done()  # still blocked: the server may not have seen the request yet
    # the slot is stamped at the end (t=1060): the next may go at 1070, not earlier
    assert budget.eta(extra_requests=0) == pytest.approx(10.0)
    clock.now += 10.0
    budget.penalize(0)  # wakes the head so it re-reads the (fake) clock
    await asyncio.wait_for(waiting, 2)
    assert budget.total_sent == 2
