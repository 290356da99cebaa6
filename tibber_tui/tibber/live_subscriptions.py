"""``LiveSubscriptions``: the graphql-transport-ws conversation on one token's live socket.

One ``subscribe`` per home and the subscription id ↔ home bookkeeping; the per-frame path (``handle_text``):
``next`` frames parsed into ``LiveMeasurement``s, a ``ping`` noted for an answer, and a home whose subscription
Tibber ended or failed resubscribed after a delay without disturbing the other homes. Opening, watching and
reopening the socket itself is ``LiveStream``'s job (``tibber_tui.tibber.live``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from tibber_tui.secrets import redact
from tibber_tui.tibber.errors import InvalidToken, MalformedNode
from tibber_tui.tibber.models import LiveMeasurement
from tibber_tui.tibber.parse import parse_live
from tibber_tui.tibber.queries import LIVE_SUBSCRIPTION

log = logging.getLogger(__name__)

_AUTH_MARKERS = ("unauthenticated", "invalid token", "not authorized", "unauthorized")
"""Words in a subscription error that mean the token itself was refused (never retried)."""


@dataclass(slots=True)
class LiveStats:
    """What one stream did, for tests, benchmarks and the status view."""

    connects: int = 0
    """Websocket upgrade attempts."""
    frames: int = 0
    """Measurements handed to ``on_measurement``."""
    malformed: int = 0
    """Frames dropped because they could not be read."""
    resubscribes: int = 0
    cooldowns: int = 0
    stale: int = 0


class LiveSubscriptions:
    """The home subscriptions on a token's live socket, and the handling of every text frame it delivers."""

    def __init__(
        self,
        *,
        who: str,
        token: str,
        stats: LiveStats,
        wanted_homes: Callable[[], list[str]],
        on_measurement: Callable[[LiveMeasurement], None],
        sleep: Callable[[float], Awaitable[None]],
        resubscribe_delay: float,
        stopping: Callable[[], bool],
    ) -> None:
        self._who = who
        self._token = token
        self._stats = stats
        self._wanted_homes = wanted_homes
        self._on_measurement = on_measurement
        self._sleep = sleep
        self.resubscribe_delay = resubscribe_delay
        """Seconds before a home whose subscription ended or failed is subscribed again."""
        self._stopping = stopping
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        """The open socket subscriptions live on; None between connections."""
        self.by_id: dict[str, str] = {}
        """Subscription id → home id, for the subscriptions open on ``socket``."""
        self.by_home: dict[str, str] = {}
        """Home id → subscription id (the reverse of ``by_id``)."""
        self.pong_due = False
        """The server sent a ``ping``: the stream owes it a ``pong``."""
        self._next_id = 0
        self._pending: set[asyncio.Task[None]] = set()
        self._resubscribing: set[str] = set()  # homes waiting for their delayed resubscribe

    # -- the socket's lifetime --------------------------------------------------------------------

    def attach(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """A new socket is open (and not yet acknowledged): subscriptions go on it from now on."""
        self.socket = ws

    def cancel_pending(self) -> None:
        """The socket is ending: drop the delayed resubscribes and the in-flight ``complete`` sends."""
        for task in self._pending:
            task.cancel()
        self._pending.clear()
        self._resubscribing.clear()

    def detach(self) -> None:
        """The socket is gone, and with it every subscription on it."""
        self.socket = None
        self.by_id.clear()
        self.by_home.clear()

    async def complete_all(self, ws: aiohttp.ClientWebSocketResponse, *, within: float) -> None:
        """Forget every subscription and send ``complete`` for each, giving up after ``within`` seconds."""
        subscriptions = list(self.by_id)
        self.by_id.clear()
        self.by_home.clear()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(within):
                for sub_id in subscriptions:
                    await ws.send_str(json.dumps({"id": sub_id, "type": "complete"}))

    # -- subscribing ------------------------------------------------------------------------------

    async def sync(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Subscribe new homes, complete dropped ones; False when no home is left."""
        wanted = self._wanted_homes()
        for home_id in [h for h in self.by_home if h not in wanted]:
            sub_id = self.by_home.pop(home_id)
            self.by_id.pop(sub_id, None)
            await ws.send_str(json.dumps({"id": sub_id, "type": "complete"}))
        for home_id in wanted:
            if home_id not in self.by_home and home_id not in self._resubscribing:
                await self._subscribe(ws, home_id)
        return bool(wanted)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse, home_id: str) -> None:
        self._next_id += 1
        sub_id = str(self._next_id)
        self.by_id[sub_id] = home_id
        self.by_home[home_id] = sub_id
        payload = {"query": LIVE_SUBSCRIPTION, "variables": {"homeId": home_id}}
        await ws.send_str(json.dumps({"id": sub_id, "type": "subscribe", "payload": payload}))

    def _resubscribe_later(self, home_id: str) -> None:
        ws = self.socket
        if ws is None or self._stopping():
            return

        async def resubscribe() -> None:
            try:
                await self._sleep(self.resubscribe_delay)
            finally:
                self._resubscribing.discard(home_id)
            if ws is self.socket and not ws.closed and home_id in self._wanted_homes() and home_id not in self.by_home:
                self._stats.resubscribes += 1
                await self._subscribe(ws, home_id)

        self._resubscribing.add(home_id)  # the periodic sync must not resubscribe it before the delay

        task = asyncio.create_task(resubscribe())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _end_subscription(self, sub_id: Any) -> str | None:
        home_id = self.by_id.pop(sub_id, None) if isinstance(sub_id, str) else None
        if home_id is not None:
            self.by_home.pop(home_id, None)
        return home_id

    # -- the frame path ---------------------------------------------------------------------------

    def handle_text(self, text: str) -> bool:
        """Handle one text frame; True when it carried a measurement (the stream is alive).

        This is the whole per-frame path (JSON, dispatch, parse, hand-off) and what ``bench_live`` measures.
        """
        try:
            message = json.loads(text)
        except ValueError:
            self._stats.malformed += 1
            log.warning("%s: unreadable websocket frame: %.80r", self._who, text)
            return False
        if type(message) is not dict:
            self._stats.malformed += 1
            return False
        kind = message.get("type")
        if kind == "next":
            home_id = self.by_id.get(message.get("id"))  # type: ignore[arg-type]
            if home_id is None:
                return False  # a frame of a subscription we already completed
            payload = message.get("payload")
            if type(payload) is not dict:
                self._stats.malformed += 1
                return False
            errors = payload.get("errors")
            if errors:
                self._subscription_failed(message.get("id"), errors, still_open=True)
                return False
            data = payload.get("data")
            try:
                measurement = parse_live(home_id, data.get("liveMeasurement") if type(data) is dict else None)
            except MalformedNode as exc:
                self._stats.malformed += 1
                log.warning("%s: home %s: %s", self._who, home_id, exc)
                return True  # the stream is alive even if this frame was bad
            self._stats.frames += 1
            self._on_measurement(measurement)
            return True
        if kind == "ping":
            self.pong_due = True
        elif kind == "error":
            self._subscription_failed(message.get("id"), message.get("payload"), still_open=False)
        elif kind == "complete":
            home_id = self._end_subscription(message.get("id"))
            if home_id is not None:
                log.info("%s: Tibber ended the stream of home %s; resubscribing", self._who, home_id)
                self._resubscribe_later(home_id)
        return False

    def _subscription_failed(self, sub_id: Any, errors: Any, *, still_open: bool) -> None:
        """A subscription reported errors: give up on it and resubscribe its home later.

        ``still_open``: errors inside ``next`` leave the operation running on the server, so it is completed
        first; an ``error`` message already ended it (graphql-transport-ws).
        """
        text = redact(json.dumps(errors)[:300], [self._token])
        if any(marker in text.lower() for marker in _AUTH_MARKERS):
            raise InvalidToken(f"{self._who}: Tibber rejected the token on the websocket ({text}); check the token")
        home_id = self._end_subscription(sub_id)
        if home_id is None:
            return
        log.warning("%s: subscription of home %s failed: %s; resubscribing", self._who, home_id, text)
        if still_open and self.socket is not None and not self.socket.closed:
            task = asyncio.create_task(self.socket.send_str(json.dumps({"id": sub_id, "type": "complete"})))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        self._resubscribe_later(home_id)
