"""The database state as one JSON-able dict (``tibber-tui status --json``; shape documented in the README)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tibber_tui.db.types import AnyConnection
from tibber_tui.secrets import mask_token

INSTANCE_ALIVE_SECONDS = 30
"""An instance whose heartbeat is older than this (database clock) is shown as not alive."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def build_status_snapshot(conn: AnyConnection) -> dict[str, Any]:
    """Tokens (masked), homes with their newest data, loader status and instances, read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        now = await conn.fetchval("SELECT now()")
        version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM tibber.schema_migrations")
        tokens = await conn.fetch(
            """
            SELECT t.id, t.token, t.label, t.active, t.created_at, t.updated_at,
                   s.state, s.reason, (s.token_updated_at = t.updated_at) AS status_current,
                   l.owner, l.generation, l.expires_at, (l.expires_at > now()) AS lease_valid,
                   coalesce((SELECT array_agg(home_id ORDER BY home_id) FROM tibber.token_homes th
                             WHERE th.token_id = t.id), '{}') AS home_ids
            FROM tibber.tibber_tokens t
            LEFT JOIN tibber.token_status s ON s.token_id = t.id
            LEFT JOIN tibber.token_leases l ON l.token_id = t.id
            ORDER BY t.id
            """
        )
        homes = await conn.fetch(
            """
            SELECT h.*,
                   coalesce((SELECT array_agg(token_id ORDER BY token_id) FROM tibber.token_homes th
                             WHERE th.home_id = h.id), '{}') AS token_ids,
                   (SELECT max("timestamp") FROM tibber.prices p WHERE p.home_id = h.id) AS newest_price,
                   (SELECT max("timestamp") FROM tibber.consumption c WHERE c.home_id = h.id) AS newest_consumption,
                   (SELECT max("timestamp") FROM tibber.production p WHERE p.home_id = h.id) AS newest_production,
                   (SELECT max("timestamp") FROM tibber.real_time_measurements m WHERE m.home_id = h.id)
                       AS newest_live
            FROM tibber.homes h ORDER BY h.id
            """
        )
        loaders = await conn.fetch("SELECT * FROM tibber.loader_status ORDER BY home_id, loader")
        instances = await conn.fetch(
            f"SELECT *, heartbeat_at > now() - interval '{INSTANCE_ALIVE_SECONDS} seconds' AS alive "
            "FROM tibber.instances ORDER BY started_at"
        )
    return {
        "generated_at": _iso(now),
        "schema_version": int(version),
        "tokens": [
            {
                "id": t["id"],
                "token": mask_token(t["token"]),
                "label": t["label"],
                "active": t["active"],
                "state": t["state"] if t["status_current"] else None,
                "reason": t["reason"] if t["status_current"] else None,
                "lease": None
                if t["owner"] is None
                else {
                    "owner": str(t["owner"]),
                    "generation": t["generation"],
                    "expires_at": _iso(t["expires_at"]),
                    "valid": bool(t["lease_valid"]),
                },
                "home_ids": list(t["home_ids"]),
                "created_at": _iso(t["created_at"]),
                "updated_at": _iso(t["updated_at"]),
            }
            for t in tokens
        ],
        "homes": [
            {
                "id": h["id"],
                "nickname": h["nickname"],
                "time_zone": h["time_zone"],
                "address1": h["address1"],
                "postal_code": h["postal_code"],
                "city": h["city"],
                "country": h["country"],
                "realtime_enabled": h["realtime_enabled"],
                "has_production": h["has_production"],
                "subscription_status": h["subscription_status"],
                "currency": h["currency"],
                "token_ids": list(h["token_ids"]),
                "newest": {
                    "prices": _iso(h["newest_price"]),
                    "consumption": _iso(h["newest_consumption"]),
                    "production": _iso(h["newest_production"]),
                    "real_time_measurements": _iso(h["newest_live"]),
                },
            }
            for h in homes
        ],
        "loaders": [
            {
                "home_id": r["home_id"],
                "loader": r["loader"],
                "token_id": r["token_id"],
                "state": r["state"],
                "rows_written": r["rows_written"],
                "last_success": _iso(r["last_success"]),
                "next_run": _iso(r["next_run"]),
                "last_error": r["last_error"],
                "owner": r["owner"],
                "updated_at": _iso(r["updated_at"]),
            }
            for r in loaders
        ],
        "instances": [
            {
                "id": str(i["id"]),
                "host": i["host"],
                "pid": i["pid"],
                "mode": i["mode"],
                "version": i["version"],
                "started_at": _iso(i["started_at"]),
                "heartbeat_at": _iso(i["heartbeat_at"]),
                "alive": bool(i["alive"]),
            }
            for i in instances
        ],
    }
