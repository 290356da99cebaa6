"""TokenCollector: everything collected for one token (its homes, then live, history and price loaders).

The loaders run as tasks under the collector. A rejected token (``InvalidToken`` from any of them) ends the
collector with "failed": the token's status row records the reason, pinned to the token row's version, so
nobody retries it until the row changes. Other errors are the loaders' business (they back off and retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from tibber_tui.collector.backoff import Backoff, jittered
from tibber_tui.collector.batch_writer import BatchWriter
from tibber_tui.collector.events import EventSink, LogMessage, RowsWritten, TokenFailed
from tibber_tui.collector.status import StatusReporter
from tibber_tui.collector.timings import CollectorTimings
from tibber_tui.config import Config
from tibber_tui.db.store import Store, TokenRow
from tibber_tui.errors import describe
from tibber_tui.secrets import redact
from tibber_tui.tibber.budget import Priority
from tibber_tui.tibber.errors import InvalidToken, RateLimited
from tibber_tui.tibber.models import Home

if TYPE_CHECKING:
    from tibber_tui.tibber.client import TibberClient

log = logging.getLogger(__name__)

Outcome = Literal["failed", "stopped"]


@dataclass(frozen=True, slots=True)
class CollectorContext:
    """What every collector of a process shares."""

    store: Store
    writer: BatchWriter
    status: StatusReporter
    sink: EventSink
    config: Config
    timings: CollectorTimings
    clock: Callable[[], datetime]
    client_factory: Callable[[str], TibberClient]


class TokenCollector:
    """Collects one token: homes, then one live stream, a history loader and a price loader."""

    def __init__(self, token: TokenRow, ctx: CollectorContext) -> None:
        self.token = token
        self.ctx = ctx
        self.homes: list[Home] = []
        self._client: TibberClient | None = None
        self._live: LiveLoaderLike | None = None
        self._task: asyncio.Task[Outcome] | None = None

    @property
    def token_id(self) -> int:
        return self.token.id

    def home_ids(self) -> list[str]:
        return [h.id for h in self.homes]

    def realtime_home_ids(self) -> list[str]:
        return [h.id for h in self.homes if h.realtime_enabled]

    def say(self, level: Literal["info", "warning", "error"], text: str) -> None:
        """A log line for this token, with the token masked wherever it might appear."""
        self.ctx.sink.emit(LogMessage(level, redact(text, [self.token.token]), self.token.id))

    async def run(self) -> Outcome:
        """Collect until cancelled; returns "failed" when the API rejects the token."""
        from tibber_tui.collector.history import HistoryLoader
        from tibber_tui.collector.live import LiveLoader
        from tibber_tui.collector.prices import PriceLoader

        self._task = asyncio.current_task()
        client = self._client = self.ctx.client_factory(self.token.token)
        tasks: list[asyncio.Task[None]] = []
        try:
            await self._load_homes(client)
            if self.realtime_home_ids():
                self._live = LiveLoader(self, client)
                tasks.append(asyncio.create_task(self._live.run(), name=f"live-{self.token_id}"))
            tasks.append(asyncio.create_task(HistoryLoader(self, client).run(), name=f"history-{self.token_id}"))
            tasks.append(asyncio.create_task(PriceLoader(self, client).run(), name=f"prices-{self.token_id}"))
            tasks.append(asyncio.create_task(self._refresh_homes(client), name=f"homes-{self.token_id}"))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                exc = task.exception()
                if exc is not None:
                    raise exc
            # Every loader returned on its own (e.g. all gave up on an API bug): idle until stopped.
            await asyncio.Event().wait()
            return "stopped"
        except InvalidToken as exc:
            await self._fail(str(exc))
            return "failed"
        finally:
            await self._teardown(tasks)

    async def _teardown(self, tasks: list[asyncio.Task[None]]) -> None:
        if self._live is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._live.stop(), self.ctx.timings.stop_timeout)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.close(), 0.5)
        self.ctx.status.stopped(self.token_id, self.home_ids())

    async def stop(self, timeout: float = 1.0) -> None:  # noqa: ASYNC109 - a deadline for the whole stop
        """Complete subscriptions, close the socket (1000), cancel the loaders and flush this token's rows."""
        task = self._task
        if self._live is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._live.stop(), timeout)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ctx.writer.flush(self.home_ids()), timeout)

    async def _load_homes(self, client: TibberClient) -> None:
        """The homes query, retried on transient errors; ``InvalidToken`` goes up."""
        backoff = Backoff(self.ctx.timings.retry_base, self.ctx.timings.retry_cap)
        while True:
            try:
                viewer = await client.viewer(Priority.LIVE)
                homes = list(viewer.homes)
                written = await self.ctx.store.upsert_homes(self.token_id, homes)
            except (InvalidToken, asyncio.CancelledError):
                raise
            except RateLimited as exc:
                self.say("warning", f"homes query rate limited; retrying in {exc.retry_after:.0f} s")
                await asyncio.sleep(jittered(exc.retry_after, self.ctx.timings.jitter))
                continue
            except Exception as exc:
                delay = backoff.failure()
                self.say("warning", f"homes query failed: {describe(exc)}; retrying in {delay:.1f} s")
                await asyncio.sleep(delay)
                continue
            if not self.homes:
                # The API accepted the token: an older 'failed' verdict no longer applies.
                with contextlib.suppress(Exception):
                    await self.ctx.store.set_token_status(self.token_id, "ok", None)
            self.homes = homes
            if written:
                for home in homes:
                    self.ctx.sink.emit(RowsWritten(self.token_id, home.id, "homes", 1))
            if not homes:
                self.say("warning", "the token sees no homes")
            return

    async def _refresh_homes(self, client: TibberClient) -> None:
        """Names, addresses and production capability change rarely: re-read them daily."""
        while True:
            await asyncio.sleep(jittered(self.ctx.timings.homes_refresh, self.ctx.timings.jitter))
            await self._load_homes(client)

    async def _fail(self, reason: str) -> None:
        reason = redact(reason, [self.token.token])
        self.ctx.sink.emit(TokenFailed(self.token_id, reason))
        for attempt in range(3):
            try:
                await self.ctx.store.set_token_status(self.token_id, "failed", reason)
                return
            except Exception:
                log.debug("could not record the token's failure", exc_info=True)
                await asyncio.sleep(0.5 * (attempt + 1))


class LoaderGaveUp(Exception):
    """The API refused a loader's query as invalid (ApiBug): that loader stops, the others go on."""


class TokenLoader:
    """What the history and price loaders share: their token's collector and API client."""

    def __init__(self, collector: TokenCollector, client: TibberClient) -> None:
        self.collector = collector
        self.client = client
        self.ctx = collector.ctx
        self.token_id = collector.token_id


class LiveLoaderLike(Protocol):
    """What the collector needs of its live loader."""

    async def run(self) -> None: ...

    async def stop(self) -> None: ...
