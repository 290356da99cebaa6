"""``LiveStream``: one token's live measurements over ONE websocket (``graphql-transport-ws``).

Hand-written over aiohttp's websocket client (on the token's ``TibberClient`` session) rather than gql's
websocket transport: per-home ``complete``/``error`` handling without dropping the other homes, Tibber's
close codes (4403 → invalid token, 4429 → cool down), stale detection, a bounded clean stop and a parse
path of a dict lookup per field are each a few lines here and awkward through gql's subscription API.

Protocol (FACTS §2): ``connection_init {"token"}`` → ``connection_ack``; one ``subscribe`` per home;
``next`` frames; ``ping``/``pong`` both ways; ``complete`` + close 1000 to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from tibber_tui.secrets import mask_token, redact
from tibber_tui.tibber.backoff import official_sdk_backoff
from tibber_tui.tibber.budget import Priority
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.errors import ApiBug, InvalidToken, MalformedNode, RateLimited, TransientApiError
from tibber_tui.tibber.models import LiveMeasurement
from tibber_tui.tibber.parse import parse_live
from tibber_tui.tibber.queries import LIVE_SUBSCRIPTION

log = logging.getLogger(__name__)

StreamState = Literal["connecting", "connected", "stale", "reconnecting", "cooling_down", "closed"]
"""The same states as ``collector.events.StreamStateChanged``."""

SUBPROTOCOL = "graphql-transport-ws"
CLOSE_TIMEOUT = 0.5
"""Seconds to wait for the server's answer to our close frame: ``stop()`` must finish within 1 s."""
ACK_TIMEOUT = 10.0
"""Seconds to wait for ``connection_ack``."""
_INVALID_TOKEN_CLOSE = 4403
_TOO_MANY_CONNECTIONS_CLOSE = 4429
_AUTH_MARKERS = ("unauthenticated", "invalid token", "not authorized", "unauthorized")


def default_cooldown(count: int) -> float:
    """Seconds to wait after rate-limit rejection number ``count`` in a row: minutes, growing, jittered.

    4429 means Tibber still counts two sockets of this token (often our own, not yet noticed dead), and
    HTTP 429 means the IP is banned for ~10 minutes; retrying sooner only renews the ban.
    """
    return min(120.0 * count, 900.0) + random.uniform(0.0, 60.0)


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


class _StreamEnded(Exception):
    """The socket ended (dropped, stale, closed by the server): reconnect after a backoff."""


class LiveStream:
    """Live measurements of one token's realtime homes, reconnecting until ``stop()``."""

    def __init__(
        self,
        token: str,
        *,
        client: TibberClient,
        home_ids: Callable[[], Sequence[str]],
        on_measurement: Callable[[LiveMeasurement], None],
        on_state: Callable[[str, str], None] = lambda state, detail: None,
        ping_interval: float = 30.0,
        stale_after: float = 90.0,
        backoff: Callable[[int], float] = official_sdk_backoff,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        cooldown: Callable[[int], float] = default_cooldown,
        resubscribe_delay: float = 5.0,
    ) -> None:
        self._token = token
        self._client = client
        self._home_ids = home_ids
        self._on_measurement = on_measurement
        self._on_state = on_state
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self._backoff = backoff
        self._sleep = sleep
        self._cooldown = cooldown
        self.resubscribe_delay = resubscribe_delay
        self.stats = LiveStats()
        self.state: StreamState = "closed"
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._sub_home: dict[str, str] = {}  # subscription id → home id
        self._home_sub: dict[str, str] = {}  # home id → subscription id
        self._next_id = 0
        self._pong_due = False
        self._pending: set[asyncio.Task[None]] = set()
        self._resubscribing: set[str] = set()  # homes waiting for their delayed resubscribe
        self._inner: asyncio.Task[None] | None = None

    @property
    def who(self) -> str:
        return f"token {mask_token(self._token)}"

    def subscribed_homes(self) -> set[str]:
        """Homes with an active subscription on the open socket."""
        return set(self._home_sub)

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream until ``stop()``. Raises ``InvalidToken`` (never retried) and ``ApiBug``."""
        if self._inner is not None:
            raise RuntimeError("LiveStream.run() is already running")
        self._inner = asyncio.create_task(self._run_loop(), name=f"live {self.who}")
        try:
            await asyncio.shield(self._inner)
        except asyncio.CancelledError:
            if not self._inner.done():  # our caller was cancelled: stop cleanly, then pass it on
                await self.stop()
            if self._inner.cancelled() and self._stopping and not _current_task_cancelling():
                return  # stop() cut a pending request short
            raise
        finally:
            self._set_state("closed", "stopped" if self._stopping else "ended")

    async def stop(self) -> None:
        """Complete every subscription, close the socket with 1000, end ``run()``; returns within about 1 s."""
        self._stopping = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None and not ws.closed:
            await self._close_gracefully(ws)
        inner = self._inner
        if inner is not None and not inner.done():
            # run() may be inside an HTTP request or a pause: give it a moment, then cut it short.
            _done, pending = await asyncio.wait({inner}, timeout=0.3)
            if pending:
                inner.cancel()
                await asyncio.wait({inner}, timeout=0.2)

    async def _run_loop(self) -> None:
        failures = 0
        cooldowns = 0
        while not self._stopping:
            homes = self._wanted_homes()
            if not homes:
                await self._pause(self.ping_interval)
                continue
            try:
                self._set_state("connecting", _homes(len(homes)))
                viewer = await self._client.viewer(Priority.LIVE)  # the URL may change: re-read every time
                if not viewer.websocket_url:
                    raise TransientApiError(f"{self.who}: Tibber gave no websocket URL")
                healthy = await self._stream(viewer.websocket_url)
                if healthy:
                    failures, cooldowns = 0, 0
                if self._stop_requested():
                    return
                failures += 1
                delay = self._backoff(failures)
                self._set_state("reconnecting", f"connection ended; reconnect in {delay:.0f} s")
            except InvalidToken as exc:
                self._set_state("closed", str(exc))
                raise
            except ApiBug as exc:
                self._set_state("closed", str(exc))
                raise
            except RateLimited as exc:
                cooldowns += 1
                self.stats.cooldowns += 1
                delay = max(exc.retry_after, self._cooldown(cooldowns))
                self._set_state("cooling_down", f"{exc}; next attempt in {delay:.0f} s")
            except (TransientApiError, _StreamEnded) as exc:
                failures += 1
                delay = self._backoff(failures)
                self._set_state("reconnecting", f"{exc}; reconnect in {delay:.0f} s")
            if not self._stopping:
                await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        """Sleep (the injected sleep), but wake at once on ``stop()``."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    # -- one connection -------------------------------------------------------------------------

    async def _stream(self, url: str) -> bool:
        """One websocket from upgrade to end; True when it delivered data (so the backoff resets)."""
        session = await self._client.session()
        async with self._client.budget.slot(Priority.LIVE):  # upgrades count against Tibber's limit too
            self.stats.connects += 1
            ws = await self._connect(session, url)
        self._ws = ws
        got_data = False
        try:
            await ws.send_str(json.dumps({"type": "connection_init", "payload": {"token": self._token}}))
            await self._wait_for_ack(ws)
            self._set_state("connected", _homes(len(self._wanted_homes())))
            loop = asyncio.get_running_loop()
            last_data = loop.time()
            next_ping = last_data + self.ping_interval
            await self._sync_subscriptions(ws)
            while not self._stopping:
                now = loop.time()
                if now - last_data >= self.stale_after:
                    self.stats.stale += 1
                    self._set_state("stale", f"no data for {now - last_data:.0f} s; reconnecting")
                    return got_data
                if now >= next_ping:
                    next_ping = now + self.ping_interval
                    await ws.send_str('{"type":"ping"}')
                    if not await self._sync_subscriptions(ws):
                        return got_data  # no homes left to watch
                timeout = max(min(next_ping, last_data + self.stale_after) - now, 0.001)
                try:
                    message = await ws.receive(timeout=timeout)
                except TimeoutError:
                    continue
                if message.type is aiohttp.WSMsgType.TEXT:
                    if self.handle_text(message.data):
                        last_data = loop.time()
                        got_data = True
                    if self._pong_due:
                        self._pong_due = False
                        await ws.send_str('{"type":"pong"}')
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    if self._stop_requested():
                        break
                    self._raise_for_close(ws.close_code, message.extra)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    raise _StreamEnded(f"websocket error: {message.data}")
            return got_data
        finally:
            for task in self._pending:
                task.cancel()
            self._pending.clear()
            self._resubscribing.clear()
            if not ws.closed:
                await self._close_gracefully(ws)
            self._ws = None
            self._sub_home.clear()
            self._home_sub.clear()

    async def _connect(self, session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
        try:
            return await session.ws_connect(
                url,
                protocols=(SUBPROTOCOL,),
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT),
                autoping=True,
                max_msg_size=4 * 1024 * 1024,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 429:
                retry_after = self._client.rate_limit_cooldown
                self._client.budget.penalize(retry_after)
                raise RateLimited(
                    f"{self.who}: websocket upgrade refused with HTTP 429 (IP banned)", retry_after
                ) from None
            if exc.status == 401:
                raise InvalidToken(f"{self.who}: websocket upgrade refused (HTTP 401); check the token") from None
            raise TransientApiError(f"{self.who}: websocket upgrade failed (HTTP {exc.status})") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", [self._token])
            raise TransientApiError(f"{self.who}: could not open the websocket ({detail})") from None

    async def _wait_for_ack(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async with asyncio.timeout(ACK_TIMEOUT):
            while True:
                message = await ws.receive()
                if message.type is aiohttp.WSMsgType.TEXT:
                    kind = _message_type(message.data)
                    if kind == "connection_ack":
                        return
                    if kind == "ping":
                        await ws.send_str('{"type":"pong"}')
                    elif kind == "connection_error":
                        raise _StreamEnded(f"connection refused: {redact(message.data[:200], [self._token])}")
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    self._raise_for_close(ws.close_code, message.extra)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    raise _StreamEnded(f"websocket error: {message.data}")

    def _raise_for_close(self, code: int | None, reason: Any) -> None:
        text = redact(str(reason or ""), [self._token])
        if code == _INVALID_TOKEN_CLOSE:
            raise InvalidToken(
                f"{self.who}: Tibber closed the websocket: invalid token ({code} {text}); check the token"
            )
        if code == _TOO_MANY_CONNECTIONS_CLOSE:
            retry_after = self._cooldown(1)
            raise RateLimited(
                f"{self.who}: Tibber refused the websocket: too many connections ({code} {text})", retry_after
            )
        raise _StreamEnded(f"websocket closed by the server ({code} {text})".replace(" )", ")"))

    async def _close_gracefully(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """``complete`` every subscription, then close with 1000; bounded so ``stop()`` stays fast."""
        subscriptions = list(self._sub_home)
        self._sub_home.clear()
        self._home_sub.clear()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                for sub_id in subscriptions:
                    await ws.send_str(json.dumps({"id": sub_id, "type": "complete"}))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT + 0.1):
                await ws.close(code=1000)

    # -- subscriptions --------------------------------------------------------------------------

    def _wanted_homes(self) -> list[str]:
        return list(dict.fromkeys(self._home_ids()))

    async def _sync_subscriptions(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Subscribe new homes, complete dropped ones; False when no home is left."""
        wanted = self._wanted_homes()
        for home_id in [h for h in self._home_sub if h not in wanted]:
            sub_id = self._home_sub.pop(home_id)
            self._sub_home.pop(sub_id, None)
            await ws.send_str(json.dumps({"id": sub_id, "type": "complete"}))
        for home_id in wanted:
            if home_id not in self._home_sub and home_id not in self._resubscribing:
                await self._subscribe(ws, home_id)
        return bool(wanted)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse, home_id: str) -> None:
        self._next_id += 1
        sub_id = str(self._next_id)
        self._sub_home[sub_id] = home_id
        self._home_sub[home_id] = sub_id
        payload = {"query": LIVE_SUBSCRIPTION, "variables": {"homeId": home_id}}
        await ws.send_str(json.dumps({"id": sub_id, "type": "subscribe", "payload": payload}))

    def _resubscribe_later(self, home_id: str) -> None:
        ws = self._ws
        if ws is None or self._stopping:
            return

        async def resubscribe() -> None:
            try:
                await self._sleep(self.resubscribe_delay)
            finally:
                self._resubscribing.discard(home_id)
            if ws is self._ws and not ws.closed and home_id in self._wanted_homes() and home_id not in self._home_sub:
                self.stats.resubscribes += 1
                await self._subscribe(ws, home_id)

        self._resubscribing.add(home_id)  # the periodic sync must not resubscribe it before the delay

        task = asyncio.create_task(resubscribe())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _end_subscription(self, sub_id: Any) -> str | None:
        home_id = self._sub_home.pop(sub_id, None) if isinstance(sub_id, str) else None
        if home_id is not None:
            self._home_sub.pop(home_id, None)
        return home_id

    # -- the frame path -------------------------------------------------------------------------

    def handle_text(self, text: str) -> bool:
        """Handle one text frame; True when it carried a measurement (the stream is alive).

        This is the whole per-frame path (JSON, dispatch, parse, hand-off) and what ``bench_live`` measures.
        """
        try:
            message = json.loads(text)
        except ValueError:
            self.stats.malformed += 1
            log.warning("%s: unreadable websocket frame: %.80r", self.who, text)
            return False
        if type(message) is not dict:
            self.stats.malformed += 1
            return False
        kind = message.get("type")
        if kind == "next":
            home_id = self._sub_home.get(message.get("id"))  # type: ignore[arg-type]
            if home_id is None:
                return False  # a frame of a subscription we already completed
            payload = message.get("payload")
            if type(payload) is not dict:
                self.stats.malformed += 1
                return False
            errors = payload.get("errors")
            if errors:
                self._subscription_failed(message.get("id"), errors, still_open=True)
                return False
            data = payload.get("data")
            try:
                measurement = parse_live(home_id, data.get("liveMeasurement") if type(data) is dict else None)
            except MalformedNode as exc:
                self.stats.malformed += 1
                log.warning("%s: home %s: %s", self.who, home_id, exc)
                return True  # the stream is alive even if this frame was bad
            self.stats.frames += 1
            self._on_measurement(measurement)
            return True
        if kind == "ping":
            self._pong_due = True
        elif kind == "error":
            self._subscription_failed(message.get("id"), message.get("payload"), still_open=False)
        elif kind == "complete":
            home_id = self._end_subscription(message.get("id"))
            if home_id is not None:
                log.info("%s: Tibber ended the stream of home %s; resubscribing", self.who, home_id)
                self._resubscribe_later(home_id)
        return False

    def _subscription_failed(self, sub_id: Any, errors: Any, *, still_open: bool) -> None:
        """A subscription reported errors: give up on it and resubscribe its home later.

        ``still_open``: errors inside ``next`` leave the operation running on the server, so it is completed
        first; an ``error`` message already ended it (graphql-transport-ws).
        """
        text = redact(json.dumps(errors)[:300], [self._token])
        if any(marker in text.lower() for marker in _AUTH_MARKERS):
            raise InvalidToken(f"{self.who}: Tibber rejected the token on the websocket ({text}); check the token")
        home_id = self._end_subscription(sub_id)
        if home_id is None:
            return
        log.warning("%s: subscription of home %s failed: %s; resubscribing", self.who, home_id, text)
        if still_open and self._ws is not None and not self._ws.closed:
            task = asyncio.create_task(self._ws.send_str(json.dumps({"id": sub_id, "type": "complete"})))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        self._resubscribe_later(home_id)

    def _stop_requested(self) -> bool:
        """``stop()`` was called (a call, so type narrowing does not assume it is still False after an await)."""
        return self._stopping

    def _set_state(self, state: StreamState, detail: str) -> None:
        self.state = state
        self._on_state(state, detail)


def _homes(count: int) -> str:
    return "1 home" if count == 1 else f"{count} homes"


def _message_type(text: str) -> str | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    kind = message.get("type") if isinstance(message, dict) else None
    return kind if isinstance(kind, str) else None


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
