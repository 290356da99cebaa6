"""One rate budget shared by many tokens' clients, against the simulator's real per-IP limit."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from tests.fixtures.sim import SimulatorFactory
from tibber_tui.tibber.budget import Priority, RateBudget
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.models import HistoryRequest

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


async def test_many_tokens_never_exceed_the_budget(make_simulator: SimulatorFactory) -> None:
    """The simulator bans at 11 requests per second; 6 tokens want 30 requests; the budget allows 10 per second."""
    sim = await make_simulator(clock=lambda: NOW, rate_limit=11, rate_window=1.0, ban_seconds=30.0)
    tokens = [f"token-{i}-abcdefghijklmnop" for i in range(6)]
    for token in tokens:
        sim.add_token(token, 2)
    budget = RateBudget(limit=10, window=1.0)
    clients = [TibberClient(t, api_url=sim.url, budget=budget, max_retries=0) for t in tokens]
    sent: list[float] = []

    async def work(client: TibberClient, priority: Priority) -> None:
        viewer = await client.viewer(priority)
        ids = [h.id for h in viewer.homes]
        for _ in range(4):
            sent.append(time.monotonic())
            await client.history([HistoryRequest(i, None, 3) for i in ids], priority)

    started = time.monotonic()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(work(c, Priority(i % 4)) for i, c in enumerate(clients))),
            20,
        )
    finally:
        for client in clients:
            await client.close()
    elapsed = time.monotonic() - started
    total = sum(sim.stats.requests[t] for t in tokens)
    assert total == 30
    assert sim.stats.rate_limited == 0  # the simulator never had to refuse one
    assert elapsed >= 2.0  # 30 requests at 10/s: the budget really held them back
    assert budget.total_sent == 30


async def test_priorities_order_what_reaches_the_api(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: NOW)
    (home,) = sim.add_token("prio-token-0123456789", 1)
    budget = RateBudget(limit=1, window=0.1)
    client = TibberClient("prio-token-0123456789", api_url=sim.url, budget=budget)
    try:
        await client.viewer()  # fills the window: everything below queues
        tasks = [
            asyncio.create_task(client.history([HistoryRequest(home.id, NOW, 2)], Priority.BACKFILL)),
            asyncio.create_task(client.history([HistoryRequest(home.id, None, 2)], Priority.RECENT)),
            asyncio.create_task(client.prices([home.id], Priority.PRICES)),
            asyncio.create_task(client.viewer(Priority.LIVE)),
        ]
        await asyncio.sleep(0.01)
        snapshot = budget.snapshot()
        assert snapshot.queued_total == 4
        assert snapshot.eta_seconds is not None and 0.2 <= snapshot.eta_seconds <= 0.45
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    finally:
        await client.close()
    names = [q.split("(")[0].split("{")[0].split()[-1] for q in sim.stats.queries["prio-token-0123456789"]]
    assert names == ["Homes", "Homes", "Prices", "History", "History"]
    recent, backfill = sim.stats.queries["prio-token-0123456789"][3:]
    assert "before" not in recent and "before: $b0" in backfill  # RECENT went before the earlier BACKFILL
