"""``tibber-tui tokens ...``, ``tibber-tui migrate`` and ``tibber-tui status``: plain text out, tokens masked."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from tibber_tui.config import Config
from tibber_tui.db.connection import (
    connect,
    create_database,
    open_store,
    resolve_dsn,
)
from tibber_tui.db.migrations import migrate
from tibber_tui.db.store import Store, TokenExists, TokenNotFound, TokenRow
from tibber_tui.secrets import mask_token, token_problem


def _fail(message: str) -> int:
    print(f"tibber-tui: {message}", file=sys.stderr)
    return 1


def _describe_token(row: TokenRow) -> str:
    label = f" ({row.label})" if row.label else ""
    state = "active" if row.active else "inactive"
    return f"token {row.id} {mask_token(row.token)}{label}, {state}"


def tokens_command(args: argparse.Namespace, config: Config) -> int:
    """``tibber-tui tokens add|list|activate|deactivate|remove``."""
    return asyncio.run(_tokens(args, config))


async def _tokens(args: argparse.Namespace, config: Config) -> int:
    action = args.tokens_command
    if action == "add":
        token = args.token.strip()
        problem = token_problem(token)
        if problem:
            return _fail(f"not a Tibber token: {problem}")
    store = await open_store(config, max_size=2)
    try:
        if action == "add":
            try:
                row = await store.add_token(token, args.label, active=not args.inactive)
            except TokenExists as exc:
                return _fail(f"token {mask_token(token)} is already present as id {exc.token_id}")
            print(f"added {_describe_token(row)}")
            return 0
        if action == "list":
            return await _list_tokens(store)
        try:
            if action == "remove":
                existing = await store.get_token(args.id)
                await store.remove_token(args.id)
                print(f"removed token {args.id} {mask_token(existing.token) if existing else ''}".rstrip())
                return 0
            row = await store.set_token_active(args.id, action == "activate")
        except TokenNotFound:
            return _fail(f"no token with id {args.id} (see `tibber-tui tokens list`)")
        print(f"{_describe_token(row)} now")
        return 0
    finally:
        await store.close()


async def _list_tokens(store: Store) -> int:
    tokens = await store.list_tokens()
    if not tokens:
        print("no tokens yet; add one with `tibber-tui tokens add TOKEN --label NAME`")
        return 0
    statuses = await store.token_statuses()
    header = ("ID", "TOKEN", "LABEL", "ACTIVE", "STATE", "ADDED")
    lines = [header]
    for row in tokens:
        status = statuses.get(row.id)
        state = ""
        if status is not None and status.token_updated_at == row.updated_at:
            state = status.state + (f": {status.reason}" if status.reason else "")
        lines.append(
            (
                str(row.id),
                mask_token(row.token),
                row.label or "",
                "yes" if row.active else "no",
                state,
                row.created_at.strftime("%Y-%m-%d %H:%M"),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def migrate_command(args: argparse.Namespace, config: Config) -> int:
    """``tibber-tui migrate [--create-database]``."""
    return asyncio.run(_migrate(resolve_dsn(config), create=bool(getattr(args, "create_database", False))))


async def _migrate(dsn: str, *, create: bool) -> int:
    if create and await create_database(dsn):
        print("created the database")
    conn = await connect(dsn)
    try:
        applied = await migrate(conn)
        version = await conn.fetchval("SELECT max(version) FROM tibber.schema_migrations")
    finally:
        await conn.close()
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}; schema version {version}")
    else:
        print(f"the database is up to date (schema version {version})")
    return 0


def status_command(args: argparse.Namespace, config: Config) -> int:
    """``tibber-tui status [--json]``: the state in the database."""
    return asyncio.run(_status(config, as_json=bool(getattr(args, "json", False))))


async def _status(config: Config, *, as_json: bool) -> int:
    store = await open_store(config, max_size=2)
    try:
        snapshot = await store.status_snapshot()
    finally:
        await store.close()
    if as_json:
        print(json.dumps(snapshot, indent=2, ensure_ascii=False))
    else:
        print(format_status(snapshot))
    return 0


def format_status(snapshot: dict[str, Any]) -> str:
    """The human-readable form of ``status``."""
    out: list[str] = [f"schema version {snapshot['schema_version']} at {snapshot['generated_at']}", ""]
    out.append(f"tokens ({len(snapshot['tokens'])}):")
    for t in snapshot["tokens"]:
        label = f" ({t['label']})" if t["label"] else ""
        lease = t["lease"]
        owner = f", collected by {lease['owner']}" if lease and lease["valid"] else ""
        state = f", {t['state']}" + (f": {t['reason']}" if t["reason"] else "") if t["state"] else ""
        active = "active" if t["active"] else "inactive"
        out.append(f"  {t['id']:>4} {t['token']}{label} {active}{state}{owner}, {len(t['home_ids'])} home(s)")
    out.append(f"homes ({len(snapshot['homes'])}):")
    for h in snapshot["homes"]:
        place = ", ".join(p for p in (h["address1"], h["city"], h["country"]) if p)
        newest = h["newest"]
        out.append(
            f"  {h['id']} {h['nickname'] or ''} [{place}] live {newest['real_time_measurements'] or '-'}, "
            f"prices {newest['prices'] or '-'}, consumption {newest['consumption'] or '-'}"
        )
    out.append(f"loaders ({len(snapshot['loaders'])}):")
    for r in snapshot["loaders"]:
        error = f", error: {r['last_error']}" if r["last_error"] else ""
        out.append(
            f"  {r['home_id']} {r['loader']}: {r['state']}, {r['rows_written']} rows, "
            f"last success {r['last_success'] or '-'}, next run {r['next_run'] or '-'}{error}"
        )
    out.append(f"instances ({len(snapshot['instances'])}):")
    for i in snapshot["instances"]:
        alive = "alive" if i["alive"] else "gone"
        out.append(f"  {i['id']} {i['mode']} on {i['host']} pid {i['pid']} ({alive}, heartbeat {i['heartbeat_at']})")
    return "\n".join(out)
