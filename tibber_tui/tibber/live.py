"""``LiveStream``: one token's live measurements over ONE websocket (``graphql-transport-ws``).

Hand-written over aiohttp's websocket client (on the token's ``TibberClient`` session) rather than gql's
websocket transport: per-home ``complete``/``error`` handling without dropping the other homes, Tibber's
close codes (4403 → invalid token, 4429 → cool down), stale detection, a bounded clean stop and a parse
path of a dict lookup per field are each a few lines here and awkward through gql's subscription API.

Protocol (FACTS §2): ``connection_init {"token"}`` → ``connection_ack``; one ``subscribe`` per home;
``next`` frames; ``ping``/``pong`` both ways; ``complete`` + close 1000 to stop. This module opens, watches
(ping, stale data, close codes) and reopens the socket; the subscriptions on it and the per-frame path are
``LiveSubscriptions`` (``tibber_tui.tibber.live_subscriptions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import aiohttp

from tibber_tui.secrets import mask_token, redact
from tibber_tui.tibber.backoff import official_sdk_backoff
from tibber_tui.tibber.budget import Priority
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.errors import ApiBug, InvalidToken, MalformedNode, RateLimited, TransientApiError
from tibber_tui.tibber.live_subscriptions import LiveStats, LiveSubscriptions
from tibber_tui.tibber.models import LiveMeasurement

__all__ = ["ACK_TIMEOUT", "CLOSE_TIMEOUT", "SUBPROTOCOL", "LiveStats", "LiveStream", "StreamState", "default_cooldown"]

StreamState = Literal["connecting", "connected", "stale", "reconnecting", "cooling_down", "closed"]
"""The same states as ``collector.events.StreamStateChanged``."""

SUBPROTOCOL = "graphql-transport-ws"
CLOSE_TIMEOUT = 0.5
"""Seconds to wait for the server's answer to our close frame: ``stop()`` must finish within 1 s."""
ACK_TIMEOUT = 10.0
"""Seconds to wait for ``connection_ack``."""
_INVALID_TOKEN_CLOSE = 4403
_TOO_MANY_CONNECTIONS_CLOSE = 4429


def default_cooldown(count: int) -> float:
    """Seconds to wait after rate-limit rejection number ``count`` in a row: minutes, growing, jittered.

    4429 means Tibber still counts two sockets of this token (often our own, not yet noticed dead), and
    HTTP 429 means the IP is banned for ~10 minutes; retrying sooner only renews the ban.
    """
    return min(120.0 * count, 900.0) + random.uniform(0.0, 60.0)


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
        ack_timeout: float = ACK_TIMEOUT,
    ) -> None:
        self._token = token
        self.ack_timeout = ack_timeout
        self._client = client
        self._home_ids = home_ids
        self._on_state = on_state
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self._backoff = backoff
        self._sleep = sleep
        self._cooldown = cooldown
        self.stats = LiveStats()
        self.state: StreamState = "closed"
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._subscriptions = LiveSubscriptions(
            who=self.who,
            token=token,
            stats=self.stats,
            wanted_homes=self._wanted_homes,
            on_measurement=on_measurement,
            sleep=sleep,
            resubscribe_delay=resubscribe_delay,
            stopping=self._stop_requested,
        )
        self._inner: asyncio.Task[None] | None = None
        self._got_data = False
        """The current (or last) connection delivered data: the failure series starts over."""

    @property
    def who(self) -> str:
        return f"token {mask_token(self._token)}"

    @property
    def resubscribe_delay(self) -> float:
        """Seconds before a home whose subscription Tibber ended or failed is subscribed again."""
        return self._subscriptions.resubscribe_delay

    @resubscribe_delay.setter
    def resubscribe_delay(self, seconds: float) -> None:
        self._subscriptions.resubscribe_delay = seconds

    def subscribed_homes(self) -> set[str]:
        """Homes with an active subscription on the open socket."""
        return set(self._subscriptions.by_home)

    def handle_text(self, text: str) -> bool:
        """Handle one text frame; True when it carried a measurement (see ``LiveSubscriptions.handle_text``)."""
        return self._subscriptions.handle_text(text)

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
        ws = self._subscriptions.socket
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
            self._got_data = False
            try:
                self._set_state("connecting", _homes(len(homes)))
                viewer = await self._client.viewer(Priority.LIVE)  # the URL may change: re-read every time
                if not viewer.websocket_url:
                    raise TransientApiError(f"{self.who}: Tibber gave no websocket URL")
                await self._stream(viewer.websocket_url)
                if self._stop_requested():
                    return
                failures = 0 if self._got_data else failures
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
                # A socket that streamed before it was refused starts a new series of cool-downs.
                cooldowns = 0 if self._got_data else cooldowns
                cooldowns += 1
                self.stats.cooldowns += 1
                delay = max(exc.retry_after, self._cooldown(cooldowns))
                self._set_state("cooling_down", f"{exc}; next attempt in {delay:.0f} s")
            except (TransientApiError, MalformedNode, _StreamEnded, TimeoutError, aiohttp.ClientError, OSError) as exc:
                # Whatever ends a connection (a reset mid-send, no ack in time, a drop) is the stream's business:
                # reconnect with backoff; never let it end the token's collector. Failures count in a row only:
                # a socket that delivered data resets the series, however it ended.
                failures = 0 if self._got_data else failures
                failures += 1
                delay = self._backoff(failures)
                detail = (
                    str(exc) if isinstance(exc, TransientApiError | _StreamEnded) else f"{type(exc).__name__}: {exc}"
                )
                self._set_state("reconnecting", f"{redact(detail, [self._token])}; reconnect in {delay:.0f} s")
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

    async def _stream(self, url: str) -> None:
        """One websocket from upgrade to end; sets ``_got_data`` once it delivers data (so the backoff resets)."""
        session = await self._client.session()
        async with self._client.budget.slot(Priority.LIVE):  # upgrades count against Tibber's limit too
            self.stats.connects += 1
            ws = await self._connect(session, url)
        subscriptions = self._subscriptions
        subscriptions.attach(ws)
        try:
            await ws.send_str(json.dumps({"type": "connection_init", "payload": {"token": self._token}}))
            await self._wait_for_ack(ws)
            self._set_state("connected", _homes(len(self._wanted_homes())))
            loop = asyncio.get_running_loop()
            last_data = loop.time()
            next_ping = last_data + self.ping_interval
            await subscriptions.sync(ws)
            while not self._stopping:
                now = loop.time()
                if now - last_data >= self.stale_after:
                    self.stats.stale += 1
                    self._set_state("stale", f"no data for {now - last_data:.0f} s; reconnecting")
                    return
                if now >= next_ping:
                    next_ping = now + self.ping_interval
                    await ws.send_str('{"type":"ping"}')
                    if not await subscriptions.sync(ws):
                        return  # no homes left to watch
                timeout = max(min(next_ping, last_data + self.stale_after) - now, 0.001)
                try:
                    message = await ws.receive(timeout=timeout)
                except TimeoutError:
                    continue
                if message.type is aiohttp.WSMsgType.TEXT:
                    if subscriptions.handle_text(message.data):
                        last_data = loop.time()
                        self._got_data = True
                    if subscriptions.pong_due:
                        subscriptions.pong_due = False
                        await ws.send_str('{"type":"pong"}')
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    if self._stop_requested():
                        break
                    self._raise_for_close(ws.close_code, message.extra)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    raise _StreamEnded(f"websocket error: {message.data}")
        finally:
            subscriptions.cancel_pending()
            if not ws.closed:
                await self._close_gracefully(ws)
            subscriptions.detach()

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
        async with asyncio.timeout(self.ack_timeout):
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
        await self._subscriptions.complete_all(ws, within=CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT + 0.1):
                await ws.close(code=1000)

    # -- helpers ----------------------------------------------------------------------------------

    def _wanted_homes(self) -> list[str]:
        return list(dict.fromkeys(self._home_ids()))

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
