"""The Store: the one place with SQL. Every data write is an idempotent, set-based upsert."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from tibber_tui.db import upserts
from tibber_tui.db.status import build_status_snapshot
from tibber_tui.tibber.models import LIVE_VALUE_FIELDS, Address, Consumption, Home, LiveMeasurement, Price, Production


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    token: str
    label: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """The collector's verdict on a token: 'failed' with a reason, pinned to the row's updated_at."""

    token_id: int
    state: str
    reason: str | None
    token_updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class LoaderStatusRow:
    home_id: str
    loader: str
    token_id: int | None
    state: str
    rows_written: int
    last_success: datetime | None
    next_run: datetime | None
    last_error: str | None
    owner: str | None
    updated_at: datetime


LoaderStatusUpdate = tuple[str, str, int | None, str, int, datetime | None, datetime | None, str | None, str | None]
"""(home_id, loader, token_id, state, rows_written, last_success, next_run, last_error, owner)"""


class TokenExists(Exception):
    """``add_token`` of a token that is already in the table."""

    def __init__(self, token_id: int) -> None:
        super().__init__(f"token already present as id {token_id}")
        self.token_id = token_id


class TokenNotFound(Exception):
    def __init__(self, token_id: int) -> None:
        super().__init__(f"no token with id {token_id}")
        self.token_id = token_id


HISTORY_TABLES = {"consumption": "consumption", "production": "production"}
"""Tables ``history_bounds`` accepts, mapped to their value column."""

STAGED_UPSERT_ROWS = 1000
"""From this many rows on, a batch goes through binary COPY into a staging table (three round trips, but
about twice the rows per second of parallel arrays)."""

_TOKEN_COLUMNS = "id, token, label, active, created_at, updated_at"
_LIVE_COLUMNS = ", ".join(LIVE_VALUE_FIELDS)

K = TypeVar("K")
R = TypeVar("R")


def _aware(ts: datetime, what: str) -> datetime:
    """``ts`` as a UTC instant, the key for de-duplication.

    Python compares two datetimes of the same ZoneInfo by wall time, ignoring ``fold``: 02:30 CEST and
    02:30 CET on the October DST day would be "equal" and merge. Their UTC instants never are.
    A naive datetime would be stored as if it were UTC; the API always gives an offset, so it is a bug.
    """
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{what} {ts.isoformat()} has no UTC offset; pass timezone-aware datetimes")
    return ts.astimezone(UTC)


def _dedupe(rows: Iterable[R], key: Callable[[R], K]) -> dict[K, R]:
    """Last row wins per key (use UTC instants from ``_aware`` as keys)."""
    latest: dict[K, R] = {}
    for row in rows:
        latest[key(row)] = row
    return latest


_live_values: Callable[[LiveMeasurement], tuple[Any, ...]] = operator.attrgetter(*LIVE_VALUE_FIELDS)


def _merge_live(rows: Sequence[LiveMeasurement]) -> list[tuple[Any, ...]]:
    """One record per (home, instant); a later frame's values win, its NULLs keep the earlier values."""
    merged: dict[tuple[str, datetime], list[Any]] = {}
    for row in rows:
        key = (row.home_id, _aware(row.timestamp, "live timestamp"))
        values = _live_values(row)
        known = merged.get(key)
        if known is None:
            merged[key] = [row.home_id, key[1], *values]
        else:
            for i, value in enumerate(values, start=2):
                if value is not None:
                    known[i] = value
    return [tuple(v) for v in merged.values()]


def _columns(records: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [[r[i] for r in records] for i in range(width)]


def _affected(tag: str) -> int:
    # "INSERT 0 <n>": n counts inserted rows plus rows whose ON CONFLICT update passed its WHERE.
    return int(tag.rsplit(" ", 1)[-1])


def _token_row(r: asyncpg.Record) -> TokenRow:
    return TokenRow(r["id"], r["token"], r["label"], r["active"], r["created_at"], r["updated_at"])


def _home(r: asyncpg.Record) -> Home:
    return Home(
        id=r["id"],
        nickname=r["nickname"],
        time_zone=r["time_zone"],
        address=Address(r["address1"], r["postal_code"], r["city"], r["country"], r["latitude"], r["longitude"]),
        realtime_enabled=bool(r["realtime_enabled"]),
        has_production=bool(r["has_production"]),
        subscription_status=r["subscription_status"],
        currency=r["currency"],
    )


class Store:
    """All reads and writes of schema ``tibber``; every write is an idempotent, set-based upsert."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def close(self) -> None:
        """Close the pool (the Store is unusable afterwards)."""
        await self.pool.close()

    # tokens
    async def add_token(self, token: str, label: str | None = None, active: bool = True) -> TokenRow:
        """Insert a token; raises TokenExists (with the existing id) when it is already there."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"INSERT INTO tibber.tibber_tokens (token, label, active) VALUES ($1, $2, $3) "
                f"ON CONFLICT (token) DO NOTHING RETURNING {_TOKEN_COLUMNS}",
                token,
                label,
                active,
            )
            if row is None:
                existing = await conn.fetchval("SELECT id FROM tibber.tibber_tokens WHERE token = $1", token)
                raise TokenExists(int(existing))
        return _token_row(row)

    async def list_tokens(self) -> list[TokenRow]:
        rows = await self.pool.fetch(f"SELECT {_TOKEN_COLUMNS} FROM tibber.tibber_tokens ORDER BY id")
        return [_token_row(r) for r in rows]

    async def get_token(self, token_id: int) -> TokenRow | None:
        row = await self.pool.fetchrow(f"SELECT {_TOKEN_COLUMNS} FROM tibber.tibber_tokens WHERE id = $1", token_id)
        return None if row is None else _token_row(row)

    async def active_tokens(self) -> list[TokenRow]:
        rows = await self.pool.fetch(f"SELECT {_TOKEN_COLUMNS} FROM tibber.tibber_tokens WHERE active ORDER BY id")
        return [_token_row(r) for r in rows]

    async def set_token_active(self, token_id: int, active: bool) -> TokenRow:
        """Set ``active`` (the trigger notifies every instance); raises TokenNotFound."""
        row = await self.pool.fetchrow(
            f"UPDATE tibber.tibber_tokens SET active = $2 WHERE id = $1 RETURNING {_TOKEN_COLUMNS}",
            token_id,
            active,
        )
        if row is None:
            raise TokenNotFound(token_id)
        return _token_row(row)

    async def remove_token(self, token_id: int) -> None:
        """Delete a token (its links, lease and status go with it); raises TokenNotFound."""
        tag = await self.pool.execute("DELETE FROM tibber.tibber_tokens WHERE id = $1", token_id)
        if _affected(tag) == 0:
            raise TokenNotFound(token_id)

    async def set_token_status(self, token_id: int, state: str, reason: str | None) -> None:
        """Record the collector's verdict, pinned to the token row's current updated_at.

        Writes ``token_status`` only, so no token notification fires. A token deleted meanwhile is ignored.
        """
        await self.pool.execute(
            """
            INSERT INTO tibber.token_status (token_id, state, reason, token_updated_at, updated_at)
            SELECT id, $2, $3, updated_at, now() FROM tibber.tibber_tokens WHERE id = $1
            ON CONFLICT (token_id) DO UPDATE SET state = excluded.state, reason = excluded.reason,
                token_updated_at = excluded.token_updated_at, updated_at = excluded.updated_at
            """,
            token_id,
            state,
            reason,
        )

    async def token_statuses(self) -> dict[int, TokenStatus]:
        """Every recorded verdict; compare ``token_updated_at`` with the token row to know if it still applies."""
        rows = await self.pool.fetch("SELECT token_id, state, reason, token_updated_at FROM tibber.token_status")
        return {r["token_id"]: TokenStatus(r["token_id"], r["state"], r["reason"], r["token_updated_at"]) for r in rows}

    # homes
    async def upsert_homes(self, token_id: int, homes: Sequence[Home]) -> int:
        """Upsert homes and replace the token's token_homes links with exactly these homes."""
        unique = list(_dedupe(homes, lambda h: h.id).values())
        cols = [
            [h.id for h in unique],
            [h.nickname for h in unique],
            [h.time_zone for h in unique],
            [h.address.address1 for h in unique],
            [h.address.postal_code for h in unique],
            [h.address.city for h in unique],
            [h.address.country for h in unique],
            [h.address.latitude for h in unique],
            [h.address.longitude for h in unique],
            [h.realtime_enabled for h in unique],
            [h.has_production for h in unique],
            [h.subscription_status for h in unique],
            [h.currency for h in unique],
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            tag = await conn.execute(_UPSERT_HOMES, *cols)
            await conn.execute(
                "DELETE FROM tibber.token_homes WHERE token_id = $1 AND NOT (home_id = ANY($2::text[]))",
                token_id,
                cols[0],
            )
            await conn.execute(
                "INSERT INTO tibber.token_homes (token_id, home_id) SELECT $1, unnest($2::text[]) "
                "ON CONFLICT DO NOTHING",
                token_id,
                cols[0],
            )
        return _affected(tag)

    async def homes_of_token(self, token_id: int) -> list[Home]:
        rows = await self.pool.fetch(
            "SELECT h.* FROM tibber.homes h JOIN tibber.token_homes th ON th.home_id = h.id "
            "WHERE th.token_id = $1 ORDER BY h.nickname NULLS LAST, h.id",
            token_id,
        )
        return [_home(r) for r in rows]

    # data
    async def _upsert(self, statement: upserts.UpsertStatement, records: Sequence[Sequence[Any]]) -> int:
        if not records:
            return 0
        async with self.pool.acquire() as conn:
            if len(records) < STAGED_UPSERT_ROWS:
                return _affected(await conn.execute(statement.sql, *_columns(records, len(statement.columns))))
            async with conn.transaction():
                await conn.execute(statement.create_stage_sql)
                await conn.copy_records_to_table(
                    f"stage_{statement.table}",
                    records=records,
                    columns=[c.name for c in statement.columns],
                    schema_name="pg_temp",
                )
                return _affected(await conn.execute(statement.staged_sql))

    async def upsert_prices(self, home_id: str, prices: Sequence[Price]) -> int:
        """Returns the number of rows inserted or changed."""
        unique = _dedupe(prices, lambda p: _aware(p.starts_at, "price startsAt"))
        records = [
            (home_id, ts, p.total, p.energy, p.tax, p.currency, p.level, p.resolution) for ts, p in unique.items()
        ]
        return await self._upsert(upserts.PRICES, records)

    async def upsert_consumption(self, home_id: str, rows: Sequence[Consumption]) -> int:
        """Returns the number of hours inserted or changed (a NULL never erases a known value)."""
        unique = _dedupe(rows, lambda c: _aware(c.from_, "consumption from"))
        records = [
            (home_id, ts, c.to, c.consumption, c.unit, c.cost, c.unit_price, c.unit_price_vat, c.currency)
            for ts, c in unique.items()
        ]
        return await self._upsert(upserts.CONSUMPTION, records)

    async def upsert_production(self, home_id: str, rows: Sequence[Production]) -> int:
        """Returns the number of hours inserted or changed (a NULL never erases a known value)."""
        unique = _dedupe(rows, lambda p: _aware(p.from_, "production from"))
        records = [
            (home_id, ts, p.to, p.production, p.unit, p.profit, p.unit_price, p.unit_price_vat, p.currency)
            for ts, p in unique.items()
        ]
        return await self._upsert(upserts.PRODUCTION, records)

    async def upsert_live(self, rows: Sequence[LiveMeasurement]) -> int:
        """Returns the number of live rows inserted or changed; a frame's NULLs keep values already stored."""
        return await self._upsert(upserts.LIVE, _merge_live(rows))

    async def history_bounds(self, home_id: str, table: str) -> tuple[datetime | None, datetime | None]:
        """Oldest and newest ``timestamp`` of non-null rows in consumption or production for a home."""
        column = HISTORY_TABLES.get(table)
        if column is None:
            raise ValueError(f"history_bounds: table must be one of {sorted(HISTORY_TABLES)}, not {table!r}")
        row = await self.pool.fetchrow(
            f'SELECT min("timestamp") AS oldest, max("timestamp") AS newest FROM tibber.{table} '
            f"WHERE home_id = $1 AND {column} IS NOT NULL",
            home_id,
        )
        assert row is not None
        return row["oldest"], row["newest"]

    async def price_bounds(self, home_id: str) -> tuple[datetime | None, datetime | None]:
        """Oldest and newest ``startsAt`` of the prices stored for a home ((None, None) when there are none)."""
        row = await self.pool.fetchrow(
            'SELECT min("timestamp") AS oldest, max("timestamp") AS newest FROM tibber.prices WHERE home_id = $1',
            home_id,
        )
        assert row is not None
        return row["oldest"], row["newest"]

    async def live_since(self, home_ids: Sequence[str], since: datetime, limit: int = 10000) -> list[LiveMeasurement]:
        """Live rows newer than ``since`` (for graphs of tokens collected elsewhere), oldest first."""
        rows = await self.pool.fetch(
            f'SELECT home_id, "timestamp", {_LIVE_COLUMNS} FROM tibber.real_time_measurements '
            f'WHERE home_id = ANY($1::text[]) AND "timestamp" > $2 ORDER BY "timestamp", home_id LIMIT $3',
            list(home_ids),
            _aware(since, "since"),
            limit,
        )
        return [LiveMeasurement(**dict(r)) for r in rows]

    async def live_after(self, since: Mapping[str, datetime], limit: int = 10000) -> list[LiveMeasurement]:
        """Live rows of each home in ``since`` newer than that home's own instant, oldest first.

        One shared ``since`` (the oldest of all homes) would make a quiet home hold the others back: with more
        than ``limit`` rows of a busy home after it, every read returned the same first page. A full page is
        continued by passing each home's newest timestamp in it (the page is a prefix of the order).
        """
        if not since:
            return []
        homes = list(since)
        rows = await self.pool.fetch(
            f'SELECT m.home_id, m."timestamp", {", ".join(f"m.{c}" for c in LIVE_VALUE_FIELDS)} '
            "FROM tibber.real_time_measurements AS m "
            "JOIN unnest($1::text[], $2::timestamptz[]) AS s(home_id, since) "
            'ON m.home_id = s.home_id AND m."timestamp" > s.since '
            'ORDER BY m."timestamp", m.home_id LIMIT $3',
            homes,
            [_aware(since[h], "since") for h in homes],
            limit,
        )
        return [LiveMeasurement(**dict(r)) for r in rows]

    # status
    async def set_loader_status(
        self,
        home_id: str,
        loader: str,
        *,
        token_id: int | None,
        state: str,
        rows_written: int,
        last_success: datetime | None,
        next_run: datetime | None,
        last_error: str | None,
        owner: str | None,
    ) -> None:
        await self.set_loader_statuses(
            [(home_id, loader, token_id, state, rows_written, last_success, next_run, last_error, owner)]
        )

    async def set_loader_statuses(self, rows: Sequence[LoaderStatusUpdate]) -> None:
        """Upsert many loader status rows in one statement (a collector of 1,000 homes writes them every tick).

        Each row: (home_id, loader, token_id, state, rows_written, last_success, next_run, last_error, owner).
        """
        unique = list({(r[0], r[1]): r for r in rows}.values())  # one row per key: ON CONFLICT touches each once
        if not unique:
            return
        await self.pool.execute(
            """
            INSERT INTO tibber.loader_status AS s
                (home_id, loader, token_id, state, rows_written, last_success, next_run, last_error, owner, updated_at)
            SELECT u.*, now() FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[],
                                          $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[]) AS u
            ON CONFLICT (home_id, loader) DO UPDATE SET token_id = excluded.token_id, state = excluded.state,
                rows_written = excluded.rows_written, last_success = excluded.last_success,
                next_run = excluded.next_run, last_error = excluded.last_error, owner = excluded.owner,
                updated_at = excluded.updated_at
            """,
            *_columns(unique, 9),
        )

    async def loader_statuses(self) -> list[LoaderStatusRow]:
        rows = await self.pool.fetch(
            "SELECT home_id, loader, token_id, state, rows_written, last_success, next_run, last_error, owner, "
            "updated_at FROM tibber.loader_status ORDER BY home_id, loader"
        )
        return [LoaderStatusRow(**dict(r)) for r in rows]

    async def status_snapshot(self) -> dict[str, Any]:
        """The JSON-able state for ``tibber-tui status --json`` (shape documented in the README)."""
        async with self.pool.acquire() as conn:
            return await build_status_snapshot(conn)


_UPSERT_HOMES = """
INSERT INTO tibber.homes AS t (id, nickname, time_zone, address1, postal_code, city, country, latitude, longitude,
                               realtime_enabled, has_production, subscription_status, currency)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::boolean[], $11::boolean[], $12::text[], $13::text[])
ON CONFLICT (id) DO UPDATE SET nickname = excluded.nickname, time_zone = excluded.time_zone,
    address1 = excluded.address1, postal_code = excluded.postal_code, city = excluded.city,
    country = excluded.country, latitude = excluded.latitude, longitude = excluded.longitude,
    realtime_enabled = excluded.realtime_enabled, has_production = excluded.has_production,
    subscription_status = excluded.subscription_status, currency = COALESCE(excluded.currency, t.currency),
    updated_at = now()
WHERE (t.nickname, t.time_zone, t.address1, t.postal_code, t.city, t.country, t.latitude, t.longitude,
       t.realtime_enabled, t.has_production, t.subscription_status, t.currency)
  IS DISTINCT FROM (excluded.nickname, excluded.time_zone, excluded.address1, excluded.postal_code, excluded.city,
       excluded.country, excluded.latitude, excluded.longitude, excluded.realtime_enabled, excluded.has_production,
       excluded.subscription_status, COALESCE(excluded.currency, t.currency))
"""
