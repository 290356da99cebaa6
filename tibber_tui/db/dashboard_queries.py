"""Read-only queries the dashboard needs beyond ``Store``: lease owners, home counts, per-home figures.

Kept here (owned by the UI engineer) so that all SQL stays in ``tibber_tui.db``; candidates to move into
``Store`` later. Statements are constants with parameters, never built from user strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """Who holds a token's lease; ``valid`` is false once it expired (on the database clock)."""

    token_id: int
    owner: uuid.UUID
    host: str | None
    pid: int | None
    mode: str | None
    valid: bool


@dataclass(frozen=True, slots=True)
class HomeFigures:
    """What the homes pane shows besides the home's own fields; ``None`` = not known yet."""

    home_id: str
    power: float | None
    power_production: float | None
    live_at: datetime | None
    today_kwh: float | None
    price_total: float | None
    price_level: str | None
    currency: str | None


LEASE_OWNERS_SQL = """
SELECT l.token_id, l.owner, i.host, i.pid, i.mode, (l.expires_at > now()) AS valid
FROM tibber.token_leases l
LEFT JOIN tibber.instances i ON i.id = l.owner
WHERE l.owner IS NOT NULL
"""

HOME_COUNTS_SQL = """
SELECT token_id, count(*)::int AS homes FROM tibber.token_homes GROUP BY token_id
"""

# The latest live row of each home (today only, in the home's own day), the hourly consumption of today as a
# fallback for homes without live data, and the price in effect at $2.
HOME_FIGURES_SQL = """
WITH h AS (
    SELECT id, date_trunc('day', $2::timestamptz AT TIME ZONE coalesce(time_zone, 'UTC'))
               AT TIME ZONE coalesce(time_zone, 'UTC') AS day_start
    FROM tibber.homes WHERE id = ANY($1::text[])
)
SELECT h.id,
       live.power, live.power_production, live.timestamp AS live_at,
       CASE WHEN live.timestamp >= h.day_start THEN live.accumulated_consumption END AS live_kwh,
       (SELECT sum(c.consumption) FROM tibber.consumption c
         WHERE c.home_id = h.id AND c.timestamp >= h.day_start AND c.timestamp <= $2) AS hourly_kwh,
       price.total, price.level, price.currency
FROM h
LEFT JOIN LATERAL (
    SELECT r.power, r.power_production, r.timestamp, r.accumulated_consumption
    FROM tibber.real_time_measurements r
    WHERE r.home_id = h.id AND r.timestamp <= $2
    ORDER BY r.timestamp DESC LIMIT 1
) live ON true
LEFT JOIN LATERAL (
    SELECT p.total, p.level, p.currency FROM tibber.prices p
    WHERE p.home_id = h.id AND p.timestamp <= $2
    ORDER BY p.timestamp DESC LIMIT 1
) price ON true
"""


async def lease_owners(pool: asyncpg.Pool) -> dict[int, LeaseOwner]:
    """Current lease holders by token id (expired ones included, flagged ``valid=False``)."""
    rows = await pool.fetch(LEASE_OWNERS_SQL)
    return {
        r["token_id"]: LeaseOwner(r["token_id"], r["owner"], r["host"], r["pid"], r["mode"], bool(r["valid"]))
        for r in rows
    }


async def home_counts(pool: asyncpg.Pool) -> dict[int, int]:
    """Number of homes each token sees."""
    rows = await pool.fetch(HOME_COUNTS_SQL)
    return {r["token_id"]: r["homes"] for r in rows}


async def home_figures(pool: asyncpg.Pool, home_ids: Sequence[str], now: datetime) -> dict[str, HomeFigures]:
    """Latest live power, today's kWh and the current price of each home, as of ``now``."""
    if not home_ids:
        return {}
    rows = await pool.fetch(HOME_FIGURES_SQL, list(home_ids), now)
    result: dict[str, HomeFigures] = {}
    for r in rows:
        today = r["live_kwh"] if r["live_kwh"] is not None else r["hourly_kwh"]
        result[r["id"]] = HomeFigures(
            home_id=r["id"],
            power=r["power"],
            power_production=r["power_production"],
            live_at=r["live_at"],
            today_kwh=float(today) if today is not None else None,
            price_total=float(r["total"]) if r["total"] is not None else None,
            price_level=r["level"],
            currency=r["currency"],
        )
    return result
