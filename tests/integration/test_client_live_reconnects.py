"""LiveStream reconnect policy: failures count in a row only, and no connection fault ends the stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.fixtures.waiting import wait_until
from tibber_tui.simulator import Simulator
from tibber_tui.tibber.budget import RateBudget
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.live import LiveStream
from tibber_tui.tibber.models import LiveMeasurement

TOKEN = "live-reconnect-token-0123456789ABCDEF"


class Backoffs:
    """The failure counts the stream asks delays for; every delay is short."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, failures: int) -> float:
        self.asked.append(failures)
        return 0.02


@contextlib.asynccontextmanager
async def running(stream: LiveStream) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(stream.run())
    try:
        yield task
    finally:
        await stream.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 2)


def client_for(url: str) -> TibberClient:
    return TibberClient(TOKEN, api_url=url, budget=RateBudget(limit=1000, window=1.0), retry_delay=lambda _: 0.01)


async def test_a_socket_that_streamed_starts_the_failure_series_over(simulator: Simulator) -> None:
    """Drops after hours of data must not add up to the SDK's day-long backoff cap."""
    homes = simulator.add_token(TOKEN, 1)
    frames: list[LiveMeasurement] = []
    backoffs = Backoffs()
    client = client_for(simulator.url)
    stream = LiveStream(
        TOKEN, client=client, home_ids=lambda: [homes[0].id], on_measurement=frames.append, backoff=backoffs
    )
    try:
        async with running(stream) as task:
            for drop in range(4):
                seen = len(frames)
                await wait_until(lambda seen=seen: len(frames) >= seen + 3, what=f"frames before drop {drop}")
                assert simulator.faults.drop_sockets(TOKEN) == 1
                await wait_until(lambda drop=drop: len(backoffs.asked) > drop, what=f"reconnect after drop {drop}")
            await wait_until(lambda: simulator.stats.open_sockets(TOKEN) == 1, what="connected again")
            assert not task.done()
        assert backoffs.asked == [1, 1, 1, 1]  # each drop followed a streaming socket: never 2, 3, 4
    finally:
        await client.close()


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[str, list[int]]]:
    """A Tibber look-alike whose websocket accepts the upgrade and then never acknowledges ``connection_init``."""
    upgrades: list[int] = []
    url = ""

    async def gql(request: web.Request) -> web.Response:
        viewer = {"websocketSubscriptionUrl": url.replace("http", "ws") + "/ws", "homes": []}
        return web.json_response({"data": {"viewer": viewer}})

    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(protocols=("graphql-transport-ws",))
        await socket.prepare(request)
        upgrades.append(len(upgrades) + 1)
        async for _message in socket:  # read connection_init and say nothing
            pass
        return socket

    app = web.Application()
    app.router.add_post("/gql", gql)
    app.router.add_get("/ws", ws)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    try:
        yield url + "/gql", upgrades
    finally:
        await runner.cleanup()


async def test_no_ack_in_time_reconnects_and_never_ends_the_stream(silent_server: tuple[str, list[int]]) -> None:
    url, upgrades = silent_server
    backoffs = Backoffs()
    states: list[tuple[str, str]] = []
    client = client_for(url)
    stream = LiveStream(
        TOKEN,
        client=client,
        home_ids=lambda: ["home-1"],
        on_measurement=lambda _m: None,
        on_state=lambda state, detail: states.append((state, detail)),
        backoff=backoffs,
        ack_timeout=0.2,
    )
    try:
        async with running(stream) as task:
            await wait_until(lambda: len(upgrades) >= 3, what="three connection attempts")
            assert not task.done()  # a timeout is the stream's business, not a crash of the token's collector
        assert backoffs.asked[:3] == [1, 2, 3]  # no data ever: the series grows
        assert any(state == "reconnecting" and "TimeoutError" in detail for state, detail in states)
        assert all(TOKEN not in detail for _state, detail in states)
    finally:
        await client.close()
