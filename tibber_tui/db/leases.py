"""Token leases and instance registration: who collects which token, on the database clock.

A lease row per token (``tibber.token_leases``) names its owner instance, a fencing ``generation`` that grows
with every change of owner, and ``expires_at``. All times are the database's ``now()`` so instances on
machines with skewed clocks still agree. Claims use ``FOR UPDATE SKIP LOCKED`` so that two instances
reconciling at the same moment never wait on, or both take, the same token.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease this instance holds: valid until ``expires_at`` (database clock) under ``generation``."""

    token_id: int
    generation: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """Who holds a token's lease right now (for status displays and tests)."""

    token_id: int
    owner: uuid.UUID | None
    generation: int
    expires_at: datetime | None
    expired: bool


_REGISTER_INSTANCE = """
INSERT INTO tibber.instances (id, host, pid, mode, version, started_at, heartbeat_at)
VALUES ($1, $2, $3, $4, $5, now(), now())
ON CONFLICT (id) DO UPDATE
   SET host = excluded.host, pid = excluded.pid, mode = excluded.mode,
       version = excluded.version, heartbeat_at = now()
"""

_HEARTBEAT = "UPDATE tibber.instances SET heartbeat_at = now() WHERE id = $1"

_DEREGISTER = "DELETE FROM tibber.instances WHERE id = $1"

_LIVE_COLLECTORS = """
SELECT count(*) FROM tibber.instances
 WHERE mode <> 'observer' AND heartbeat_at > now() - make_interval(secs => $1)
"""

# Lease rows are created lazily; a token deleted meanwhile simply yields no row (the SELECT finds nothing).
_ENSURE_ROWS = """
INSERT INTO tibber.token_leases (token_id)
SELECT t.id FROM tibber.tibber_tokens t WHERE t.id = ANY($1::bigint[])
ON CONFLICT (token_id) DO NOTHING
"""

# A claim takes free, expired or already-own leases. The generation grows whenever the owner changes
# or an expired lease is re-taken, so a stale holder can tell that its lease was lost.
_CLAIM = """
WITH candidates AS (
    SELECT l.token_id
      FROM tibber.token_leases l
     WHERE l.token_id = ANY($1::bigint[])
       AND (l.owner IS NULL OR l.owner = $2 OR l.expires_at IS NULL OR l.expires_at <= now())
     ORDER BY l.token_id
     LIMIT $4
       FOR UPDATE SKIP LOCKED
)
UPDATE tibber.token_leases l
   SET generation = l.generation
                    + CASE WHEN l.owner = $2 AND l.expires_at > now() THEN 0 ELSE 1 END,
       owner = $2,
       expires_at = now() + make_interval(secs => $3)
  FROM candidates c
 WHERE l.token_id = c.token_id
RETURNING l.token_id, l.generation, l.expires_at
"""

# Renewal is fenced: only a lease still owned under the same generation and not yet expired is extended.
_RENEW = """
UPDATE tibber.token_leases l
   SET expires_at = now() + make_interval(secs => $4)
  FROM unnest($2::bigint[], $3::bigint[]) AS mine(token_id, generation)
 WHERE l.token_id = mine.token_id
   AND l.owner = $1
   AND l.generation = mine.generation
   AND l.expires_at > now()
RETURNING l.token_id, l.generation, l.expires_at
"""

_RELEASE = """
UPDATE tibber.token_leases
   SET owner = NULL, expires_at = NULL
 WHERE owner = $1 AND token_id = ANY($2::bigint[])
"""

_RELEASE_ALL = "UPDATE tibber.token_leases SET owner = NULL, expires_at = NULL WHERE owner = $1"

_OWNERS = """
SELECT token_id, owner, generation, expires_at, coalesce(expires_at <= now(), true) AS expired
  FROM tibber.token_leases ORDER BY token_id
"""


async def register_instance(
    pool: asyncpg.Pool, instance_id: uuid.UUID, *, host: str, pid: int, mode: str, version: str
) -> None:
    """Record this instance (host, pid, mode, version) with a fresh heartbeat."""
    await pool.execute(_REGISTER_INSTANCE, instance_id, host, pid, mode, version)


async def heartbeat(pool: asyncpg.Pool, instance_id: uuid.UUID) -> bool:
    """Refresh the heartbeat; False when the row is gone (someone cleaned it up): register again."""
    result = await pool.execute(_HEARTBEAT, instance_id)
    return str(result).endswith(" 1")


async def deregister_instance(pool: asyncpg.Pool, instance_id: uuid.UUID) -> None:
    """Remove the instance row and free every lease it holds."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_RELEASE_ALL, instance_id)
        await conn.execute(_DEREGISTER, instance_id)


async def live_collector_count(pool: asyncpg.Pool, stale_after: float) -> int:
    """Collecting (non-observer) instances whose heartbeat is younger than ``stale_after`` seconds."""
    value = await pool.fetchval(_LIVE_COLLECTORS, float(stale_after))
    return int(value or 0)


async def claim_leases(
    pool: asyncpg.Pool, owner: uuid.UUID, token_ids: Collection[int], ttl: float, *, limit: int | None = None
) -> list[Lease]:
    """Take up to ``limit`` of the given tokens whose lease is free, expired or already ours."""
    ids = sorted(set(token_ids))
    if not ids or (limit is not None and limit <= 0):
        return []
    async with pool.acquire() as conn:
        await conn.execute(_ENSURE_ROWS, ids)
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, ids, owner, float(ttl), limit if limit is not None else len(ids))
    return [Lease(r["token_id"], r["generation"], r["expires_at"]) for r in rows]


async def renew_leases(
    pool: asyncpg.Pool, owner: uuid.UUID, generations: Mapping[int, int], ttl: float
) -> dict[int, Lease]:
    """Extend the leases we hold; the answer holds only those confirmed (a missing one is lost)."""
    if not generations:
        return {}
    ids = list(generations)
    gens = [generations[i] for i in ids]
    rows = await pool.fetch(_RENEW, owner, ids, gens, float(ttl))
    return {r["token_id"]: Lease(r["token_id"], r["generation"], r["expires_at"]) for r in rows}


async def release_leases(pool: asyncpg.Pool, owner: uuid.UUID, token_ids: Collection[int]) -> None:
    """Give leases back at once so another instance need not wait for expiry."""
    ids = sorted(set(token_ids))
    if ids:
        await pool.execute(_RELEASE, owner, ids)


async def lease_owners(pool: asyncpg.Pool) -> list[LeaseOwner]:
    """Every lease row with its owner and whether it has expired."""
    rows = await pool.fetch(_OWNERS)
    return [LeaseOwner(r["token_id"], r["owner"], r["generation"], r["expires_at"], bool(r["expired"])) for r in rows]
