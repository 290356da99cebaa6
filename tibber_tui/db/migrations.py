"""Forward-only schema migrations: numbered ``NNNN_name.sql`` files applied once, under an advisory lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tibber_tui.db.types import AnyConnection

# One fixed key for "tibber-tui migrations" (advisory locks are per database, so databases never contend).
MIGRATION_LOCK_KEY = 0x7469_6262_6572_0001

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS tibber;
CREATE TABLE IF NOT EXISTS tibber.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    path: Path

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def sql_dir() -> Path:
    """The migrations folder: ``tibber_tui/sql`` when installed from a wheel, else the checkout's ``sql/``."""
    package_root = Path(__file__).resolve().parent.parent
    for candidate in (package_root / "sql", package_root.parent / "sql"):
        if candidate.is_dir() and any(candidate.glob("*.sql")):
            return candidate
    raise FileNotFoundError(f"no migrations folder found next to {package_root}")


def available_migrations(directory: Path | None = None) -> list[Migration]:
    """All migration files, ordered by version; a malformed or duplicate number is a packaging bug."""
    directory = directory or sql_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_name.sql")
        version = int(match["version"])
        if version in found:
            raise ValueError(f"two migrations with version {version}: {found[version].path.name}, {path.name}")
        found[version] = Migration(version, match["name"], path)
    return [found[v] for v in sorted(found)]


async def applied_versions(conn: AnyConnection) -> list[int]:
    """Versions recorded in ``tibber.schema_migrations`` (empty when the schema does not exist yet)."""
    exists = await conn.fetchval("SELECT to_regclass('tibber.schema_migrations') IS NOT NULL")
    if not exists:
        return []
    rows = await conn.fetch("SELECT version FROM tibber.schema_migrations ORDER BY version")
    return [int(r["version"]) for r in rows]


async def migrate(conn: AnyConnection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the labels applied now (empty when up to date).

    Safe to run from several processes at once: the session advisory lock serialises them, and each
    migration commits together with its ``schema_migrations`` row, so a crash never half-applies one.
    """
    migrations = available_migrations(directory)
    # Fast path without the lock: nothing to do is the common case at every start.
    done = set(await applied_versions(conn))
    if all(m.version in done for m in migrations):
        return []
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(_BOOTSTRAP)
        done = set(await applied_versions(conn))
        for migration in migrations:
            if migration.version in done:
                continue
            sql = migration.path.read_text(encoding="utf-8")
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO tibber.schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration.label)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied
