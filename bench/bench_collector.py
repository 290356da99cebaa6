"""Collector benchmarks (prints figures; not a test).

1. INSERT of a token -> its first live row in the database, 2 s frames: median of N runs.
2. ``active = false`` -> the simulator sees the socket closed: median of N runs.
3. One headless instance (a subprocess, ``tibber-tui --no-ui``) with 1,000 simulated homes at 1 frame/s:
   resident memory and CPU % over a window, live rows/s written and the lag of the newest row.

Usage: ``uv run python bench/bench_collector.py [--runs 20] [--homes 1000] [--duration 60]``
(``DATABASE_URL`` = a server where the script may create and drop a scratch database; default: the local
server on 127.0.0.1:5432.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from tibber_tui.collector.events import NullSink
from tibber_tui.collector.manager import Manager
from tibber_tui.config import Config
from tibber_tui.db.connection import dsn_with_database
from tibber_tui.db.migrations import migrate
from tibber_tui.simulator import SimConfig, Simulator, run_in_thread

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


async def poll_until(condition: Callable[[], Awaitable[object]], interval: float) -> None:
    """Poll an outside state (the database, the simulator's counters) until ``condition`` is truthy."""
    while True:
        if await condition():
            return
        await asyncio.sleep(interval)


async def scratch_database(server: str) -> str:
    name = f"bench_collector_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = dsn_with_database(server, name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


async def drop_database(server: str, dsn: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1].split("?")[0]}" WITH (FORCE)')
    finally:
        await admin.close()


async def latency_bench(server: str, runs: int) -> None:
    dsn = await scratch_database(server)
    sim = Simulator(SimConfig(frame_interval=2.0, rate_limit=None, history_days=2))
    await sim.start()
    config = Config(
        database_url=dsn, api_url=sim.url, history_limit_days=1, price_history_days=0, rate_limit_requests=10_000
    )
    manager = Manager(config, dsn, NullSink())
    task = asyncio.create_task(manager.run())
    conn = await asyncpg.connect(dsn)
    first_row: list[float] = []
    closed: list[float] = []
    try:
        await poll_until(lambda: _value(manager.store is not None), 0.05)
        await asyncio.sleep(0.5)
        for run in range(runs):
            token = f"bench-latency-{run:03d}-{uuid.uuid4().hex}"
            home = sim.add_token(token, 1)[0].id
            started = time.monotonic()
            token_id = await conn.fetchval("INSERT INTO tibber.tibber_tokens (token) VALUES ($1) RETURNING id", token)
            await poll_until(
                lambda home=home: conn.fetchval(
                    "SELECT 1 FROM tibber.real_time_measurements WHERE home_id = $1 LIMIT 1", home
                ),
                0.01,
            )
            first_row.append(time.monotonic() - started)
            await asyncio.sleep(0.3)
            started = time.monotonic()
            await conn.execute("UPDATE tibber.tibber_tokens SET active = false WHERE id = $1", token_id)
            await poll_until(lambda token=token: _value(sim.stats.open_sockets(token) == 0), 0.002)
            closed.append(time.monotonic() - started)
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await conn.close()
        await sim.stop()
        await drop_database(server, dsn)
    print(
        f"INSERT -> first live row (2 s frames), median of {runs}: {statistics.median(first_row):.3f} s "
        f"(min {min(first_row):.3f}, max {max(first_row):.3f})"
    )
    print(
        f"active=false -> socket closed, median of {runs}: {statistics.median(closed) * 1000:.1f} ms "
        f"(min {min(closed) * 1000:.1f}, max {max(closed) * 1000:.1f})"
    )


async def _value(value: object) -> object:
    return value


LAG_SQL = 'SELECT extract(epoch FROM now() - max("timestamp")) FROM tibber.real_time_measurements'


def proc_stats(pid: int) -> tuple[float, float]:
    """(resident MB, CPU seconds user+system) of a process, from /proc."""
    rss_kb = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


async def scale_bench(server: str, homes: int, duration: float, homes_per_token: int) -> None:
    dsn = await scratch_database(server)
    tokens = {f"bench-scale-{i:04d}-{uuid.uuid4().hex}": homes_per_token for i in range(homes // homes_per_token)}
    sim_thread = run_in_thread(SimConfig(frame_interval=1.0, rate_limit=None, history_days=1), tokens)
    conn = await asyncpg.connect(dsn)
    for token in tokens:
        await conn.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ($1)", token)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=dsn,
        TIBBER_API_URL=sim_thread.url,
        TIBBER_TUI_CONFIG=str(Path(tempfile.gettempdir()) / "bench-no-config.toml"),
        TIBBER_TUI_RATE_LIMIT_REQUESTS="100000",
        TIBBER_TUI_HISTORY_LIMIT_DAYS="1",
        TIBBER_TUI_PRICE_HISTORY_DAYS="1",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tibber_tui.cli", "--no-ui", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        warm_until = time.monotonic() + 120
        while time.monotonic() < warm_until:
            streaming = await conn.fetchval(
                "SELECT count(DISTINCT home_id) FROM tibber.real_time_measurements "
                "WHERE \"timestamp\" > now() - interval '5 seconds'"
            )
            if streaming >= homes:
                break
            await asyncio.sleep(1)
        print(
            f"{streaming} of {homes} homes streaming after warm-up "
            f"({len(tokens)} tokens x {homes_per_token} homes, 1 frame/s each)"
        )
        await asyncio.sleep(5)
        rss0, cpu0 = proc_stats(proc.pid)
        rows0 = await conn.fetchval("SELECT count(*) FROM tibber.real_time_measurements")
        lag0 = await conn.fetchval(
            'SELECT extract(epoch FROM now() - max("timestamp")) FROM tibber.real_time_measurements'
        )
        t0 = time.monotonic()
        peak = rss0
        while time.monotonic() - t0 < duration:
            await asyncio.sleep(5)
            peak = max(peak, proc_stats(proc.pid)[0])
        rss1, cpu1 = proc_stats(proc.pid)
        elapsed = time.monotonic() - t0
        rows1 = await conn.fetchval("SELECT count(*) FROM tibber.real_time_measurements")
        lag1 = await conn.fetchval(
            'SELECT extract(epoch FROM now() - max("timestamp")) FROM tibber.real_time_measurements'
        )
        print(f"headless instance, {homes} homes at 1 frame/s over {elapsed:.0f} s:")
        print(f"  resident memory {rss1:.0f} MB (start of window {rss0:.0f} MB, peak {peak:.0f} MB)")
        print(f"  CPU {100 * (cpu1 - cpu0) / elapsed:.1f} % of one core")
        print(f"  live rows written {(rows1 - rows0) / elapsed:.0f} /s (expected ~{homes}/s)")
        print(f"  lag of the newest row: {float(lag0):.2f} s at start, {float(lag1):.2f} s at end")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
        await conn.close()
        sim_thread.stop()
        await drop_database(server, dsn)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--homes-per-token", type=int, default=10)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", DEFAULT_SERVER)
    if not args.skip_latency:
        await latency_bench(server, args.runs)
    if not args.skip_scale:
        await scale_bench(server, args.homes, args.duration, args.homes_per_token)


if __name__ == "__main__":
    asyncio.run(main())
