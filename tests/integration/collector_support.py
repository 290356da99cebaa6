"""Shared helpers of the collector tests: fast settings, running a Manager (waiting: ``tests.fixtures.waiting``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tests.fixtures.waiting import wait_until
from tibber_tui.collector.events import Event, ListSink
from tibber_tui.collector.manager import Manager
from tibber_tui.collector.timings import CollectorTimings
from tibber_tui.config import Config

FIXED_NOW = datetime(2026, 3, 10, 12, 34, 56, tzinfo=UTC)
"""The simulator's and the collector's 'now' in tests that compare data exactly."""


def fixed_clock() -> datetime:
    return FIXED_NOW


FAST_TIMINGS = CollectorTimings(
    debounce=0.02,
    status_interval=0.2,
    budget_interval=0.2,
    retry_base=0.05,
    retry_cap=0.5,
    ping_interval=5.0,
    stale_after=1.5,
    live_backoff=lambda failures: 0.1,
    live_cooldown=lambda count: 0.5,
    resubscribe_delay=0.1,
    rate_limit_cooldown=2.0,
    client_retries=1,
    client_retry_delay=lambda attempt: 0.05,
    stop_timeout=1.0,
)


def fast_config(dsn: str, api_url: str, **changes: Any) -> Config:
    """Small intervals everywhere: leases ttl 3 s / renew 1 s, flushes every 0.1 s."""
    values: dict[str, Any] = {
        "database_url": dsn,
        "api_url": api_url,
        "lease_ttl": 3.0,
        "lease_renew": 1.0,
        "reconcile_interval": 5.0,
        "flush_interval": 0.1,
        "price_history_days": 2,
        "rate_limit_requests": 1000,
        "rate_limit_window": 300.0,
    }
    values.update(changes)
    return Config(**values)


async def start_manager(
    config: Config, dsn: str, *, timings: CollectorTimings = FAST_TIMINGS, **kwargs: Any
) -> tuple[Manager, ListSink, asyncio.Task[None]]:
    """Start a Manager in a task and wait until it is connected."""
    sink = ListSink()
    manager = Manager(config, dsn, sink, timings=timings, **kwargs)
    task = asyncio.create_task(manager.run())
    await wait_until(lambda: _started(manager, task), 10, what="manager start")
    return manager, sink, task


async def stop_manager(task: asyncio.Task[None]) -> None:
    """Cancel a manager's task and wait for its graceful stop."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 6)


@contextlib.asynccontextmanager
async def running_manager(
    config: Config, dsn: str, *, timings: CollectorTimings = FAST_TIMINGS, **kwargs: Any
) -> AsyncIterator[tuple[Manager, ListSink]]:
    """A Manager running in a task; cancelled (gracefully) when the block ends."""
    manager, sink, task = await start_manager(config, dsn, timings=timings, **kwargs)
    try:
        yield manager, sink
    finally:
        await stop_manager(task)


async def _started(manager: Manager, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # surface the start-up error
    return manager.store is not None


def events_of(sink: ListSink, kind: type[Any]) -> list[Any]:
    return [e for e in sink.events if isinstance(e, kind)]


async def count(conn: asyncpg.Pool | asyncpg.Connection, sql: str, *args: Any) -> int:
    return int(await conn.fetchval(sql, *args) or 0)


def describe_events(events: list[Event], last: int = 30) -> str:
    return "\n".join(repr(e) for e in events[-last:])
