"""Migrations: from empty, re-run, and from two processes at once."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from tibber_tui.db.migrations import available_migrations, migrate

EXPECTED_TABLES = {
    "tibber_tokens",
    "token_status",
    "homes",
    "token_homes",
    "prices",
    "consumption",
    "production",
    "real_time_measurements",
    "instances",
    "token_leases",
    "loader_status",
    "schema_migrations",
}


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'tibber'")
    return {r["table_name"] for r in rows}


async def test_migrate_from_empty_then_rerun_is_a_no_op(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await _tables(conn) == set()
        applied = await migrate(conn)
        assert applied == [m.label for m in available_migrations()]
        assert await _tables(conn) == EXPECTED_TABLES
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version, name FROM tibber.schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in available_migrations()]
    finally:
        await conn.close()


async def test_every_time_column_is_timestamptz(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        naive = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'tibber' AND data_type = 'timestamp without time zone'"
        )
        assert naive == []
        unique = await conn.fetch(
            """
            SELECT c.conrelid::regclass::text AS tbl FROM pg_constraint c
            WHERE c.contype = 'u' AND c.connamespace = 'tibber'::regnamespace
              AND (SELECT array_agg(attname ORDER BY attname) FROM pg_attribute
                   WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)) = '{home_id,timestamp}'
            """
        )
        assert {r["tbl"] for r in unique} == {
            "tibber.prices",
            "tibber.consumption",
            "tibber.production",
            "tibber.real_time_measurements",
        }
    finally:
        await conn.close()


async def test_two_processes_migrate_at_once(empty_database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tibber_tui.cli",
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    outputs = sorted(out.decode() for out, _ in results)
    # Exactly one of them applied the migrations; the other found the schema up to date.
    assert "up to date" in outputs[1] or "up to date" in outputs[0]
    assert sum("applied" in o for o in outputs) == 1
    conn = await asyncpg.connect(empty_database_url)
    try:
        versions = await conn.fetch("SELECT version FROM tibber.schema_migrations")
        assert len(versions) == len(available_migrations())
        assert await _tables(conn) == EXPECTED_TABLES
    finally:
        await conn.close()
