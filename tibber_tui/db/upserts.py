"""Set-based upsert statements, generated once at import from fixed column lists (never from user input).

Every data statement has the shape::

    INSERT INTO t (home_id, "timestamp", cols...)
    SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::double precision[], ...)
    ON CONFLICT (home_id, "timestamp") DO UPDATE SET col = COALESCE(excluded.col, t.col), ...
    WHERE (t.cols) IS DISTINCT FROM (COALESCE(excluded.col, t.col), ...)

so that a row is only rewritten when a value really changes (the command tag then counts inserted and
changed rows only), and a NULL in a later load never erases a value we already have: NULL means
"not given" (a live frame without phase values, an hour not yet settled).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql_type: str


def _q(name: str) -> str:
    return f'"{name}"' if name == "timestamp" else name


@dataclass(frozen=True, slots=True)
class UpsertStatement:
    """An ``INSERT ... SELECT FROM unnest ... ON CONFLICT`` for one table."""

    table: str
    keys: tuple[Column, ...]
    values: tuple[Column, ...]
    extra_on_insert: tuple[tuple[str, str], ...] = ()
    """Columns set from an SQL expression on insert and on change, e.g. ``("updated_at", "now()")``."""

    @property
    def sql(self) -> str:
        """One statement over parallel arrays ``$1 .. $n`` (cheapest for small batches: one round trip)."""
        params = [f"${i}::{c.sql_type}[]" for i, c in enumerate(self.columns, start=1)]
        return self._insert(f"unnest({', '.join(params)}) AS u", "u")

    @property
    def stage_table(self) -> str:
        return f"pg_temp.stage_{self.table}"

    @property
    def create_stage_sql(self) -> str:
        """A session-private staging table for COPY; emptied at every commit."""
        columns = ", ".join(f"{_q(c.name)} {c.sql_type}" for c in self.columns)
        return f"CREATE TEMP TABLE IF NOT EXISTS stage_{self.table} ({columns}) ON COMMIT DELETE ROWS"

    @property
    def staged_sql(self) -> str:
        """The same upsert reading from the staging table (big batches: binary COPY is ~2x faster than arrays)."""
        return self._insert(f"{self.stage_table} AS u", "u")

    @property
    def columns(self) -> tuple[Column, ...]:
        return (*self.keys, *self.values)

    def _insert(self, source: str, alias: str) -> str:
        names = [_q(c.name) for c in self.columns] + [name for name, _ in self.extra_on_insert]
        select = f"{alias}.*" + "".join(f", {expr}" for _, expr in self.extra_on_insert)
        key_names = ", ".join(_q(c.name) for c in self.keys)
        merged = [f"COALESCE(excluded.{_q(c.name)}, t.{_q(c.name)})" for c in self.values]
        sets = [f"{_q(c.name)} = {m}" for c, m in zip(self.values, merged, strict=True)]
        sets += [f"{name} = {expr}" for name, expr in self.extra_on_insert]
        current = ", ".join(f"t.{_q(c.name)}" for c in self.values)
        return (
            f"INSERT INTO tibber.{self.table} AS t ({', '.join(names)})\n"
            f"SELECT {select} FROM {source}\n"
            f"ON CONFLICT ({key_names}) DO UPDATE SET {', '.join(sets)}\n"
            f"WHERE ({current}) IS DISTINCT FROM ({', '.join(merged)})"
        )


def _doubles(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "double precision") for n in names)


HOME_TS = (Column("home_id", "text"), Column("timestamp", "timestamptz"))

PRICES = UpsertStatement(
    "prices",
    HOME_TS,
    (
        *_doubles("total", "energy", "tax"),
        Column("currency", "text"),
        Column("level", "text"),
        Column("resolution", "text"),
    ),
    (("fetched_at", "now()"),),
)

CONSUMPTION = UpsertStatement(
    "consumption",
    HOME_TS,
    (
        Column("to_timestamp", "timestamptz"),
        Column("consumption", "double precision"),
        Column("unit", "text"),
        *_doubles("cost", "unit_price", "unit_price_vat"),
        Column("currency", "text"),
    ),
    (("updated_at", "now()"),),
)

PRODUCTION = UpsertStatement(
    "production",
    HOME_TS,
    (
        Column("to_timestamp", "timestamptz"),
        Column("production", "double precision"),
        Column("unit", "text"),
        *_doubles("profit", "unit_price", "unit_price_vat"),
        Column("currency", "text"),
    ),
    (("updated_at", "now()"),),
)


def _live_column(name: str) -> Column:
    if name == "signal_strength":
        return Column(name, "integer")
    if name == "currency":
        return Column(name, "text")
    return Column(name, "double precision")


def _live_statement() -> UpsertStatement:
    from tibber_tui.tibber.models import LIVE_VALUE_FIELDS

    return UpsertStatement("real_time_measurements", HOME_TS, tuple(_live_column(n) for n in LIVE_VALUE_FIELDS))


LIVE = _live_statement()
