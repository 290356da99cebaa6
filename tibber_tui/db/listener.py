"""The token listener: one dedicated connection LISTENing on ``token_changes``, that never misses a change.

Notifications are only hints. The truth is the table, so after every (re)connect and every
``reconcile_interval`` the listener calls ``on_connected`` (the manager's reconcile). A heartbeat
(``SELECT 1`` with a timeout) finds a connection that died silently (a cut network never sends a FIN), and
reconnects back off exponentially up to ``backoff_max``. Losing the database is never an exception here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from tibber_tui.collector.events import DatabaseStateChanged, EventSink, LogMessage, NullSink
from tibber_tui.db.connection import DatabaseError, PoolerDetected, connect, translate_error
from tibber_tui.errors import describe

CHANNEL = "token_changes"


@dataclass(frozen=True)
class TokenChange:
    """One notification of the token trigger: action is INSERT, UPDATE or DELETE."""

    action: str
    token_id: int
    active: bool | None


def parse_payload(payload: str) -> TokenChange | None:
    """The trigger's JSON payload as a TokenChange, or None if it is not one (never raises)."""
    try:
        data = json.loads(payload)
        action = str(data["action"])
        token_id = int(data["token_id"])
        active = data.get("active")
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(active, bool):
        active = None
    return TokenChange(action, token_id, active)


async def ensure_session_pinned(fetch_backend_pid: Callable[[], Awaitable[Any]]) -> int:
    """Ask for ``pg_backend_pid()`` twice; a different answer means a transaction-mode pooler.

    Behind such a pooler each transaction may run on another server session, so LISTEN and session
    state silently stop working: refuse instead. Returns the backend pid.
    """
    first = await fetch_backend_pid()
    second = await fetch_backend_pid()
    if first != second:
        raise PoolerDetected(
            "transaction-mode pooler detected (pg_backend_pid changed between two calls): LISTEN and token "
            "leases need a session; connect tibber-tui directly to PostgreSQL or to a session-mode pool"
        )
    return int(first)


class _ConnectionLost(Exception):
    """The listener connection stopped answering or was closed."""


class TokenListener:
    """LISTEN on ``token_changes`` with heartbeat, reconnect and periodic reconcile."""

    def __init__(
        self,
        dsn: str,
        *,
        changes: asyncio.Queue[TokenChange],
        on_connected: Callable[[], Awaitable[None]],
        sink: EventSink = NullSink(),  # noqa: B008 - NullSink is stateless
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 3.0,
        reconcile_interval: float = 60.0,
        backoff_max: float = 30.0,
        backoff_initial: float = 0.5,
        connect_timeout: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self.changes = changes
        self.on_connected = on_connected
        self.sink = sink
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.reconcile_interval = reconcile_interval
        self.backoff_max = backoff_max
        self.backoff_initial = backoff_initial
        self.connect_timeout = connect_timeout
        self.connected = False
        """True while the LISTEN connection is up and answered its last heartbeat."""
        self.backend_pid: int | None = None
        """The server process of the current connection (tests terminate it)."""
        self.reconnects = 0
        """How many times a lost connection was re-established."""
        self._lost = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled. Raises only PoolerDetected (a setup the program cannot work with)."""
        failures = 0
        ever_connected = False
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._open()
                failures = 0
                if ever_connected:
                    self.reconnects += 1
                ever_connected = True
                await self._serve(conn)
            except PoolerDetected:
                raise
            except (
                _ConnectionLost,
                DatabaseError,
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                TimeoutError,
            ) as exc:
                detail = self._describe(exc)
                if self.connected or failures == 0:
                    self.sink.emit(DatabaseStateChanged(False, f"token listener lost the database: {detail}"))
                self.connected = False
                failures += 1
            finally:
                self.connected = False
                self.backend_pid = None
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(self._backoff(failures))

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, _ConnectionLost):
            return str(exc)
        translated = translate_error(exc, self.dsn)
        return describe(translated if translated is not None else exc)

    def _backoff(self, failures: int) -> float:
        base = min(self.backoff_max, self.backoff_initial * 2.0 ** max(0, failures - 1))
        # Jitter so that many instances losing one server do not reconnect in lockstep.
        return base * random.uniform(0.5, 1.0)

    async def _open(self) -> asyncpg.Connection:
        conn = await connect(self.dsn, timeout=self.connect_timeout)
        try:
            first = await ensure_session_pinned(
                lambda: conn.fetchval("SELECT pg_backend_pid()", timeout=self.heartbeat_timeout)
            )
            self._lost = asyncio.Event()
            conn.add_termination_listener(lambda _c: self._lost.set())
            await conn.add_listener(CHANNEL, self._on_notification)
        except BaseException:
            conn.terminate()
            raise
        self.backend_pid = int(first)
        return conn

    def _on_notification(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        change = parse_payload(str(payload))
        if change is None:
            self.sink.emit(LogMessage("warning", f"ignored a malformed token notification: {str(payload)[:80]}"))
            return
        # A hint lost to a full queue is harmless: the next reconcile reads the table anyway.
        with contextlib.suppress(asyncio.QueueFull):
            self.changes.put_nowait(change)

    async def _reconcile(self) -> None:
        try:
            await self.on_connected()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The reconcile belongs to the caller; its failure must not take the listener down.
            self.sink.emit(LogMessage("warning", f"reconcile after token listener event failed: {describe(exc)}"))

    async def _serve(self, conn: asyncpg.Connection) -> None:
        self.connected = True
        self.sink.emit(DatabaseStateChanged(True, "token listener connected"))
        loop = asyncio.get_running_loop()
        await self._reconcile()
        next_reconcile = loop.time() + self.reconcile_interval
        while True:
            wait = min(self.heartbeat_interval, max(0.0, next_reconcile - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), timeout=wait)
            if self._lost.is_set() or conn.is_closed():
                raise _ConnectionLost("the connection was closed")
            try:
                await conn.fetchval("SELECT 1", timeout=self.heartbeat_timeout)
            except TimeoutError:
                raise _ConnectionLost(f"no heartbeat answer within {self.heartbeat_timeout:g} s") from None
            if loop.time() >= next_reconcile:
                await self._reconcile()
                next_reconcile = loop.time() + self.reconcile_interval
