"""The token trigger: INSERT, UPDATE and DELETE each notify ``token_changes`` with the documented payload,
after commit only; ``updated_at`` is maintained; writing token_status fires nothing."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from tibber_tui.db.store import Store


async def _listen(dsn: str) -> tuple[asyncpg.Connection, asyncio.Queue[dict[str, object]]]:
    conn = await asyncpg.connect(dsn)
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await conn.add_listener("token_changes", lambda _c, _p, _ch, payload: queue.put_nowait(json.loads(payload)))
    return conn, queue


async def _next(queue: asyncio.Queue[dict[str, object]]) -> dict[str, object]:
    return await asyncio.wait_for(queue.get(), timeout=5)


async def test_insert_update_delete_notify_after_commit(database_url: str) -> None:
    listener, queue = await _listen(database_url)
    writer = await asyncpg.connect(database_url)
    try:
        async with writer.transaction():
            token_id = await writer.fetchval(
                "INSERT INTO tibber.tibber_tokens (token) VALUES ('abc-123456') RETURNING id"
            )
            await asyncio.sleep(0.2)
            assert queue.empty(), "a notification must not arrive before commit"
        assert await _next(queue) == {"action": "INSERT", "token_id": token_id, "active": True}

        await writer.execute("UPDATE tibber.tibber_tokens SET active = false WHERE id = $1", token_id)
        assert await _next(queue) == {"action": "UPDATE", "token_id": token_id, "active": False}

        # A rolled-back change notifies nobody.
        tx = writer.transaction()
        await tx.start()
        await writer.execute("UPDATE tibber.tibber_tokens SET label = 'x' WHERE id = $1", token_id)
        await tx.rollback()

        await writer.execute("DELETE FROM tibber.tibber_tokens WHERE id = $1", token_id)
        assert await _next(queue) == {"action": "DELETE", "token_id": token_id, "active": False}
        await asyncio.sleep(0.1)
        assert queue.empty()
    finally:
        await writer.close()
        await listener.close()


async def test_updated_at_moves_and_token_status_does_not_notify(database_url: str, store: Store) -> None:
    row = await store.add_token("token-for-status-1234", "home")
    listener, queue = await _listen(database_url)
    try:
        changed = await store.set_token_active(row.id, False)
        assert changed.updated_at > row.updated_at
        assert changed.created_at == row.created_at
        assert (await _next(queue))["action"] == "UPDATE"

        await store.set_token_status(row.id, "failed", "invalid token")
        await asyncio.sleep(0.3)
        assert queue.empty(), "token_status writes must not fire the token trigger"
        status = (await store.token_statuses())[row.id]
        assert (status.state, status.reason, status.token_updated_at) == ("failed", "invalid token", changed.updated_at)
    finally:
        await listener.close()
