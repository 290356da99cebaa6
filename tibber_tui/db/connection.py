"""Where the database is, and connecting to it with one clear line for every way that can fail."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from tibber_tui.config import Config
from tibber_tui.db.store import Store
from tibber_tui.db.types import AnyConnection
from tibber_tui.errors import TibberTuiError
from tibber_tui.secrets import mask_url

MIN_SERVER_VERSION = 130000
"""PostgreSQL 13: ``DROP DATABASE ... WITH (FORCE)``, ``gen_random_uuid()`` built in, trigger syntax we use."""


class DatabaseError(TibberTuiError):
    """Base of the connection errors below."""


class DatabaseUnreachable(DatabaseError):
    """Nothing answers at the address (refused, unknown host, timeout)."""


class DatabaseAuthFailed(DatabaseError):
    """The server rejected the user or password."""


class DatabaseMissing(DatabaseError):
    """The server runs but the database does not exist."""

    def __init__(self, message: str, database: str) -> None:
        super().__init__(message)
        self.database = database


class DatabaseTooOld(DatabaseError):
    """The server is older than PostgreSQL 13."""


class PoolerDetected(DatabaseError):
    """A transaction-mode pooler sits in front of the server: LISTEN and leases need a real session."""


def resolve_dsn(config: Config) -> str:
    """``config.database_url`` when given, else the embedded server in ``config.data_dir`` (started if needed)."""
    if config.database_url:
        return config.database_url
    from tibber_tui.db.embedded import ensure_embedded_server

    return ensure_embedded_server(config.data_dir)


def database_name(dsn: str) -> str:
    """The database a URL DSN names (``postgres``' default rule: the user name, else ``postgres``)."""
    parts = urlsplit(dsn)
    name = unquote(parts.path.lstrip("/"))
    return name or unquote(parts.username or "") or "postgres"


def dsn_with_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _where(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.hostname or parts.port:
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    return unquote(query.get("host", "the local socket"))


def translate_error(exc: BaseException, dsn: str) -> DatabaseError | None:
    """Map an asyncpg/OS failure to one of our one-line errors, or None if it is not a connection failure."""
    where = _where(dsn)
    name = database_name(dsn)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseMissing(
            f"database {name!r} does not exist on {where}; create it with `tibber-tui migrate --create-database`",
            name,
        )
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return DatabaseAuthFailed(f"the database server at {where} rejected the credentials in {mask_url(dsn)}: {exc}")
    if isinstance(exc, asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError):
        return DatabaseUnreachable(f"the database server at {where} does not accept connections now: {exc}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return DatabaseUnreachable(f"the database server at {where} did not answer in time")
    if isinstance(exc, socket.gaierror):
        return DatabaseUnreachable(f"cannot resolve the database host of {mask_url(dsn)}: {exc.strerror}")
    if isinstance(exc, OSError | asyncpg.ConnectionDoesNotExistError):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        return DatabaseUnreachable(
            f"cannot reach the database server at {where}: {reason} (is it running? check DATABASE_URL)"
        )
    if isinstance(exc, asyncpg.ClientConfigurationError | ValueError) and "dsn" in str(exc).lower():
        return DatabaseError(f"invalid database URL {mask_url(dsn)}: {exc}")
    return None


def check_server_version(version_num: int, dsn: str) -> None:
    """Raise DatabaseTooOld below PostgreSQL 13."""
    if version_num < MIN_SERVER_VERSION:
        major = version_num // 10000 if version_num >= 100000 else version_num / 10000
        raise DatabaseTooOld(
            f"the database server at {_where(dsn)} runs PostgreSQL {major}; tibber-tui needs PostgreSQL 13 or newer"
        )


def _version_num(conn: AnyConnection) -> int:
    info = conn.get_server_version()
    # server_version_num as PostgreSQL reports it, e.g. 150020 for 15.20 (and 90624 for 9.6.24).
    if info.major >= 10:
        return info.major * 10000 + info.minor
    return info.major * 10000 + info.minor * 100 + info.micro


@contextlib.contextmanager
def _translated(dsn: str) -> Iterator[None]:
    """Re-raise a connection failure as the DatabaseError a user can act on (unknown errors pass unchanged)."""
    try:
        yield
    except Exception as exc:
        translated = translate_error(exc, dsn)
        if translated is None:
            raise
        raise translated from None


async def connect(dsn: str, *, timeout: float = 10) -> asyncpg.Connection:  # noqa: ASYNC109
    """One connection, failures translated to a DatabaseError with a one-line message (password masked)."""
    with _translated(dsn):
        conn = await asyncpg.connect(dsn, timeout=timeout)
    try:
        check_server_version(_version_num(conn), dsn)
    except DatabaseTooOld:
        await conn.close()
        raise
    return conn


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    """A connection pool, failures translated like ``connect``."""
    with _translated(dsn):
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, timeout=10, **kwargs)
    try:
        async with pool.acquire() as conn:
            check_server_version(_version_num(conn), dsn)
    except BaseException:
        await pool.close()
        raise
    return pool


async def create_database(dsn: str) -> bool:
    """Create the database ``dsn`` names, connecting to the server's ``postgres`` database; False if it existed."""
    name = database_name(dsn)
    admin = await connect(dsn_with_database(dsn, "postgres"))
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = await admin.fetchval("SELECT quote_ident($1)", name)
        try:
            await admin.execute(f"CREATE DATABASE {quoted}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False  # another process created it meanwhile (the race shows as either error)
        return True
    finally:
        await admin.close()


async def open_store(config_or_dsn: Config | str, *, min_size: int = 1, max_size: int = 10) -> Store:
    """Resolve the DSN, open a pool, apply pending migrations and return the Store (close with ``store.close()``)."""
    from tibber_tui.db.migrations import migrate

    dsn = config_or_dsn if isinstance(config_or_dsn, str) else resolve_dsn(config_or_dsn)
    pool = await create_pool(dsn, min_size=min_size, max_size=max_size)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except BaseException:
        await pool.close()
        raise
    return Store(pool)
