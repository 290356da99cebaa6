"""TokenListener: notifications delivered, backend killed and network cut silently -> recovered, with the
changes made meanwhile reconciled; a transaction-mode pooler is refused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from tests.fixtures.tcp_proxy import TcpProxy, target_of
from tests.fixtures.waiting import wait_until
from tibber_tui.collector.events import DatabaseStateChanged, ListSink
from tibber_tui.db.connection import PoolerDetected
from tibber_tui.db.listener import TokenChange, TokenListener, ensure_session_pinned, parse_payload
from tibber_tui.db.store import Store


class Reconciler:
    """What the manager does on reconcile: read the active tokens from the table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.active: set[int] | None = None
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        self.active = {t.id for t in await self.store.active_tokens()}


@contextlib.asynccontextmanager
async def running(listener: TokenListener) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(listener.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    p = TcpProxy(target_of(database_url))
    await p.start()
    yield p
    await p.close()


def make_listener(
    dsn: str, on_connected: Callable[[], Awaitable[None]], **kw: float
) -> tuple[TokenListener, asyncio.Queue[TokenChange], ListSink]:
    queue: asyncio.Queue[TokenChange] = asyncio.Queue()
    sink = ListSink()
    options = {
        "heartbeat_interval": 0.2,
        "heartbeat_timeout": 0.5,
        "backoff_max": 0.3,
        "backoff_initial": 0.05,
        "connect_timeout": 1.0,
        **kw,
    }
    return TokenListener(dsn, changes=queue, on_connected=on_connected, sink=sink, **options), queue, sink


def db_states(sink: ListSink) -> list[bool]:
    return [e.connected for e in sink.events if isinstance(e, DatabaseStateChanged)]


def test_parse_payload() -> None:
    assert parse_payload('{"action":"DELETE","token_id":3,"active":false}') == TokenChange("DELETE", 3, False)
    assert parse_payload('{"action":"INSERT","token_id":"4","active":null}') == TokenChange("INSERT", 4, None)
    assert parse_payload("not json") is None
    assert parse_payload('{"action":"INSERT"}') is None


async def test_notifications_reach_the_queue_and_reconcile_runs_periodically(database_url: str, store: Store) -> None:
    reconcile = Reconciler(store)
    listener, queue, sink = make_listener(database_url, reconcile, reconcile_interval=0.3)
    async with running(listener):
        await wait_until(lambda: listener.connected and reconcile.calls >= 1, 5, "connect")
        row = await store.add_token("tok-listen-123456")
        await store.set_token_active(row.id, False)
        await store.remove_token(row.id)
        got = [await asyncio.wait_for(queue.get(), 5) for _ in range(3)]
        assert got == [
            TokenChange("INSERT", row.id, True),
            TokenChange("UPDATE", row.id, False),
            TokenChange("DELETE", row.id, False),
        ]
        calls = reconcile.calls
        await wait_until(lambda: reconcile.calls >= calls + 2, 5, "periodic reconciles")
    assert db_states(sink) == [True]


async def test_backend_terminated_changes_meanwhile_are_reconciled(
    database_url: str, store: Store, proxy: TcpProxy
) -> None:
    keep = await store.add_token("tok-keep-1234567")
    to_deactivate = await store.add_token("tok-deact-123456")
    to_delete = await store.add_token("tok-delete-12345")
    reconcile = Reconciler(store)
    listener, _queue, sink = make_listener(proxy.dsn_for(database_url), reconcile)
    async with running(listener) as task:
        await wait_until(lambda: listener.connected and reconcile.active is not None, 5, "first reconcile")
        assert reconcile.active == {keep.id, to_deactivate.id, to_delete.id}
        # Keep the listener out while the tokens change, so only the reconcile can tell it.
        proxy.mode = "refuse"
        admin = await asyncpg.connect(database_url)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", listener.backend_pid)
        finally:
            await admin.close()
        await wait_until(lambda: not listener.connected, 5, "the listener to notice")
        inserted = await store.add_token("tok-insert-12345")
        await store.set_token_active(to_deactivate.id, False)
        await store.remove_token(to_delete.id)
        await asyncio.sleep(0.5)  # a few refused reconnects
        assert not task.done()
        proxy.mode = "forward"
        await wait_until(lambda: reconcile.active == {keep.id, inserted.id}, 15, "reconcile after reconnect")
        assert listener.connected and listener.reconnects == 1
    assert db_states(sink) == [True, False, True]


async def test_silent_network_cut_is_detected_and_recovered(database_url: str, store: Store, proxy: TcpProxy) -> None:
    reconcile = Reconciler(store)
    listener, queue, sink = make_listener(proxy.dsn_for(database_url), reconcile)
    async with running(listener) as task:
        await wait_until(lambda: listener.connected, 5, "first connect")
        first_pid = listener.backend_pid
        proxy.mode = "blackhole"  # packets vanish, no FIN: only the heartbeat can tell
        await wait_until(lambda: not listener.connected, 5, "the heartbeat to detect the cut")
        row = await store.add_token("tok-during-cut-1")
        proxy.mode = "forward"
        await wait_until(lambda: listener.connected and reconcile.active == {row.id}, 15, "recovery")
        assert listener.backend_pid != first_pid
        assert not task.done()
        # And notifications flow again on the new connection.
        await store.set_token_active(row.id, False)
        change = await asyncio.wait_for(queue.get(), 5)
        assert change == TokenChange("UPDATE", row.id, False)
    assert db_states(sink)[:3] == [True, False, True]


async def test_unreachable_database_is_retried_not_raised(store: Store) -> None:
    reconcile = Reconciler(store)
    listener, _q, sink = make_listener("postgresql://postgres@127.0.0.1:1/nothing", reconcile)
    async with running(listener) as task:
        await asyncio.sleep(0.6)
        assert not task.done() and not listener.connected
    assert db_states(sink) == [False]  # reported once, not once per attempt


async def test_transaction_pooler_is_refused(database_url: str) -> None:
    # A transaction-mode pooler runs consecutive statements on different server sessions: emulate it with
    # two real connections used in turn, and a direct session with one.
    a = await asyncpg.connect(database_url)
    b = await asyncpg.connect(database_url)
    try:
        turn = iter([a, b, a, b])

        async def rotating_pid() -> int:
            return int(await next(turn).fetchval("SELECT pg_backend_pid()"))

        with pytest.raises(PoolerDetected, match="transaction-mode pooler detected"):
            await ensure_session_pinned(rotating_pid)

        async def direct_pid() -> int:
            return int(await a.fetchval("SELECT pg_backend_pid()"))

        assert await ensure_session_pinned(direct_pid) == await a.fetchval("SELECT pg_backend_pid()")
    finally:
        await a.close()
        await b.close()
