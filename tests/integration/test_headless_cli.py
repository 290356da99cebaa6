"""``tibber-tui --no-ui`` as a subprocess: collects, logs (human and JSON, tokens masked), stops gracefully."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import count
from tibber_tui.db import leases

TOKEN = "headless-token-0123456789abcdef0123456789abcdef-Q7W2"
ENV_TOKEN = "env-token-abcdef0123456789abcdef0123456789-ENV9"


def headless_env(database_url: str, api_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIBBER_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "TIBBER_API_URL": api_url,
            "TIBBER_TUI_CONFIG": str(tmp_path / "absent.toml"),
            "TIBBER_TUI_LEASE_TTL": "3",
            "TIBBER_TUI_LEASE_RENEW": "1",
            "TIBBER_TUI_FLUSH_INTERVAL": "0.1",
            "TIBBER_TUI_HISTORY_LIMIT_DAYS": "2",
            "TIBBER_TUI_PRICE_HISTORY_DAYS": "1",
            "TIBBER_TUI_RECONCILE_INTERVAL": "5",
        }
    )
    env.update(extra)
    return env


@asynccontextmanager
async def headless(env: Mapping[str, str], *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tibber_tui.cli", "--no-ui", *args,
        env=dict(env), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_collects_logs_masked_and_stops_gracefully_on_sigterm(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory, tmp_path: Path
) -> None:
    sim = await make_simulator(history_days=3)
    sim.add_token(TOKEN, 2, producing=1)
    sim.add_token(ENV_TOKEN, 1)
    env = headless_env(database_url, sim.url, tmp_path, TIBBER_API_TOKEN=ENV_TOKEN)
    async with headless(env, "--log-format", "json") as proc:
        # TIBBER_API_TOKEN is added as a token at start.
        await wait_until(
            lambda: count(pool, "SELECT count(*) FROM tibber.tibber_tokens WHERE token = $1", ENV_TOKEN),
            15,
            what="env token added",
        )
        await pool.execute("INSERT INTO tibber.tibber_tokens (token, label) VALUES ($1, 'cli')", TOKEN)
        await wait_until(
            lambda: count(pool, "SELECT count(DISTINCT home_id) FROM tibber.real_time_measurements"),
            15,
            what="live rows of both tokens",
        )
        await wait_until(
            lambda: _at_least(pool, "SELECT count(DISTINCT home_id) FROM tibber.real_time_measurements", 3), 15
        )
        await wait_until(lambda: count(pool, "SELECT count(*) FROM tibber.consumption"), 15, what="history")
        assert sim.stats.open_sockets(TOKEN) == 1
        instance = await pool.fetchrow("SELECT id, mode, pid FROM tibber.instances")
        assert instance is not None and instance["mode"] == "headless" and instance["pid"] == proc.pid

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
        elapsed = time.monotonic() - started
    assert proc.returncode == 0, stderr.decode()
    assert elapsed < 5.0
    # Nothing left open in the simulator; sockets were closed by us with 1000.
    assert sim.stats.open_sockets(TOKEN) == 0 and sim.stats.open_sockets(ENV_TOKEN) == 0
    assert 1000 in sim.stats.closed[TOKEN]
    # Leases free, instance gone.
    assert all(o.owner is None for o in await leases.lease_owners(pool))
    assert await count(pool, "SELECT count(*) FROM tibber.instances") == 0
    # `tibber-tui status` after the stop: every loader of this instance says stopped, none still "running".
    states = await pool.fetch("SELECT loader, state FROM tibber.loader_status ORDER BY home_id, loader")
    assert {r["loader"] for r in states} >= {"live", "consumption", "production", "prices"}
    assert {r["state"] for r in states} == {"stopped"}, [tuple(r) for r in states]

    text = stderr.decode()
    assert TOKEN not in text and ENV_TOKEN not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "message"} <= line.keys() for line in lines)
    events = {line.get("event") for line in lines}
    assert {"CollectorStarted", "CollectorStopped", "StreamStateChanged"} <= events
    assert any("…" + ENV_TOKEN[-4:] in line["message"] for line in lines)  # masked form only


async def _at_least(pool: asyncpg.Pool, sql: str, n: int) -> bool:
    return await count(pool, sql) >= n


async def test_human_log_lines_by_default(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory, tmp_path: Path
) -> None:
    sim = await make_simulator(history_days=2)
    sim.add_token(TOKEN, 1)
    await pool.execute("INSERT INTO tibber.tibber_tokens (token, label) VALUES ($1, 'human')", TOKEN)
    async with headless(headless_env(database_url, sim.url, tmp_path)) as proc:
        await wait_until(lambda: count(pool, "SELECT count(*) FROM tibber.real_time_measurements"), 15, what="live")
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0
    lines = stderr.decode().splitlines()
    assert any("collector started" in line for line in lines)
    assert all(not line.startswith("{") for line in lines)
    assert TOKEN not in stderr.decode()


async def test_unreachable_database_at_start_is_one_line_exit_1(tmp_path: Path) -> None:
    env = headless_env("postgresql://postgres:secret@127.0.0.1:1/nothing", "http://127.0.0.1:1/gql", tmp_path)
    async with headless(env) as proc:
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    lines = [line for line in stderr.decode().splitlines() if "error" in line]
    assert len(lines) == 1, stderr.decode()
    assert "secret" not in stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_bad_configuration_value_exit_2(tmp_path: Path) -> None:
    env = headless_env("postgresql://127.0.0.1:1/x", "http://127.0.0.1:1/gql", tmp_path, TIBBER_TUI_LEASE_TTL="abc")
    async with headless(env) as proc:
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "lease_ttl" in stderr.decode() and len(stderr.decode().strip().splitlines()) == 1
