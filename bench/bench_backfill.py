"""Requests needed to backfill one year of hourly consumption + production for 1 token with 3 homes.

All homes and both series of a page travel in ONE request (aliases), so the count is ceil(8760 / 744) = 12
whatever the number of homes. Runs the client against an in-process simulator over a real socket.

Run: ``uv run python bench/bench_backfill.py [--homes 3] [--days 365]``
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from datetime import UTC, datetime, timedelta

from tibber_tui.simulator import SimConfig, Simulator
from tibber_tui.tibber.budget import Priority, RateBudget
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.models import HistoryRequest

TOKEN = "bench-backfill-token-0123456789"
NOW = datetime(2025, 11, 3, 12, 0, tzinfo=UTC)


async def backfill(homes: int, days: int) -> None:
    sim = Simulator(SimConfig(clock=lambda: NOW, history_days=days + 60))
    sim.add_token(TOKEN, homes, producing=homes)
    await sim.start("127.0.0.1", 0)
    client = TibberClient(TOKEN, api_url=sim.url, budget=RateBudget())
    try:
        viewer = await client.viewer()
        ids = [h.id for h in viewer.homes]
        target = NOW - timedelta(days=days)  # the oldest hour we want
        before: dict[str, datetime | None] = dict.fromkeys(ids)
        rows = dict.fromkeys(ids, 0)
        production_rows = dict.fromkeys(ids, 0)
        pending = list(ids)
        requests = 0
        started = time.perf_counter()
        while pending:
            batch = [HistoryRequest(h, before[h], 744, production=True) for h in pending]
            pages = await client.history(batch, Priority.BACKFILL)
            requests += 1
            for home_id, page in pages.items():
                rows[home_id] += sum(1 for c in page.consumption if c.from_ >= target)
                production_rows[home_id] += sum(1 for p in page.production or [] if p.from_ >= target)
                before[home_id] = page.consumption_start
                if not page.has_previous or page.consumption_start is None or page.consumption_start <= target:
                    pending.remove(home_id)
        elapsed = time.perf_counter() - started
    finally:
        await client.close()
        await sim.stop()
    hours = max(rows.values())
    print(
        f"backfill of {days} days ({hours:,} hours) of consumption+production for 1 token with {homes} homes: "
        f"{requests} requests (expected ceil({hours}/744) = {math.ceil(hours / 744)}), "
        f"{sum(rows.values()):,} consumption + {sum(production_rows.values()):,} production rows, "
        f"{elapsed:.2f} s against the local simulator"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    asyncio.run(backfill(args.homes, args.days))


if __name__ == "__main__":
    main()
