"""``tibber-tui demo --no-ui`` as a subprocess: simulator + demo tokens + headless collector, nothing else needed."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import count
from tests.integration.test_headless_cli import headless_env
from tibber_tui.db.connection import create_database, database_name, dsn_with_database
from tibber_tui.demo import DEMO_TOKENS, INVALID_TOKEN, SOLAR_TOKEN, demo_database_name, demo_homes


@pytest.fixture
async def demo_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The demo's own database beside the configured one (created by the demo, dropped here)."""
    demo_dsn = dsn_with_database(database_url, demo_database_name(database_name(database_url)))
    admin = await asyncpg.connect(dsn_with_database(database_url, "postgres"))
    try:
        await create_database(demo_dsn)
        pool = await asyncpg.create_pool(demo_dsn, min_size=1, max_size=2)
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name(demo_dsn)}" WITH (FORCE)')
        await admin.close()


async def test_demo_headless_fills_the_database_and_shows_the_invalid_token(
    database_url: str, pool: asyncpg.Pool, demo_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    real_pool, pool = pool, demo_pool
    env = headless_env(
        database_url,
        "http://127.0.0.1:1/unused",
        tmp_path,
        TIBBER_TUI_HISTORY_LIMIT_DAYS="3",
        TIBBER_API_TOKEN="5K4MVS-OjfWhK_4yrjOlFe1F6kJXPVf7eQYggo8ebAE",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tibber_tui.cli", "demo", "--no-ui", "--frame-interval", "0.1",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:

        async def three_tokens() -> bool:
            try:
                return await count(pool, "SELECT count(*) FROM tibber.tibber_tokens") == 3
            except asyncpg.UndefinedTableError:  # the demo has not migrated its database yet
                return False

        await wait_until(three_tokens, 20, what="demo tokens")
        tokens = await pool.fetch("SELECT id, token, label FROM tibber.tibber_tokens ORDER BY id")
        assert [(r["token"], r["label"]) for r in tokens] == list(DEMO_TOKENS)  # and not TIBBER_API_TOKEN

        async def homes_streaming() -> bool:
            return await count(pool, "SELECT count(DISTINCT home_id) FROM tibber.real_time_measurements") == 4

        await wait_until(homes_streaming, 20, what="live rows of the 4 demo homes")
        cities = {r["city"] for r in await pool.fetch("SELECT city FROM tibber.homes")}
        assert {"Oslo", "Stockholm", "Amsterdam"} <= cities
        # Only the solar home has production rows.
        await wait_until(lambda: count(pool, "SELECT count(*) FROM tibber.production"), 10, what="production")
        producing = await pool.fetch("SELECT DISTINCT home_id FROM tibber.production")
        assert [r["home_id"] for r in producing] == [demo_homes()[SOLAR_TOKEN][0].id]
        invalid_id = next(r["id"] for r in tokens if r["token"] == INVALID_TOKEN)
        status = await wait_until(
            lambda: pool.fetchrow("SELECT state FROM tibber.token_status WHERE token_id = $1", invalid_id), 10
        )
        assert status["state"] == "failed"
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    text = stderr.decode()
    assert all(token not in text for token, _label in DEMO_TOKENS)
    # A second start is idempotent: the tokens are not added twice.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tibber_tui.cli", "demo", "--no-ui", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_until(lambda: count(pool, "SELECT count(*) FROM tibber.instances"), 20, what="second demo run")
        assert await count(pool, "SELECT count(*) FROM tibber.tibber_tokens") == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 10)
    # The configured (real) database was never touched: no demo token, no instance, no home.
    for table in ("tibber_tokens", "instances", "homes"):
        assert await count(real_pool, f"SELECT count(*) FROM tibber.{table}") == 0, table
