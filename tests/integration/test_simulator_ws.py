"""The live websocket over real sockets: graphql-transport-ws, Tibber's close codes, and the stream faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp

from tests.fixtures.sim import FakeMonotonic, SimulatorFactory
from tests.fixtures.waiting import wait_until
from tibber_tui.simulator import Simulator

LIVE = """subscription ($homeId: ID!) { liveMeasurement(homeId: $homeId) {
  timestamp power watts: power accumulatedConsumption powerProduction voltagePhase1 ...Extra } }
  fragment Extra on LiveMeasurement { currentL1 signalStrength }"""
HEADERS = {"User-Agent": "tibber-tui-tests/1.0"}


@asynccontextmanager
async def socket(sim: Simulator, protocols: tuple[str, ...] = ("graphql-transport-ws",)) -> AsyncIterator[Any]:
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.ws_connect(sim.ws_url, protocols=protocols) as ws,
    ):
        yield ws


async def init(ws: Any, token: str) -> dict[str, Any]:
    await ws.send_json({"type": "connection_init", "payload": {"token": token}})
    return dict(await ws.receive_json(timeout=5))


async def subscribe(ws: Any, sub_id: str, home_id: str) -> None:
    await ws.send_json(
        {"id": sub_id, "type": "subscribe", "payload": {"query": LIVE, "variables": {"homeId": home_id}}}
    )


async def next_message(ws: Any, kind: str = "next") -> dict[str, Any]:
    while True:
        message = dict(await ws.receive_json(timeout=5))
        if message["type"] == kind:
            return message


async def closed_with(ws: Any) -> tuple[int | None, str]:
    msg = await ws.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await ws.receive(timeout=5)
    return ws.close_code, str(msg.extra or "")


async def test_frames_follow_the_subscription_shape_and_the_data(simulator: Simulator) -> None:
    homes = simulator.add_token("t", 2)
    async with socket(simulator) as ws:
        assert await init(ws, "t") == {"type": "connection_ack"}
        await subscribe(ws, "a", homes[0].id)
        await subscribe(ws, "b", homes[1].id)
        seen: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        while min(len(v) for v in seen.values()) < 3:
            message = await next_message(ws)
            seen[message["id"]].append(message["payload"]["data"]["liveMeasurement"])
        await wait_until(lambda: simulator.stats.subscriptions("t") == {homes[0].id, homes[1].id})
        frame = seen["a"][0]
        assert list(frame) == ["timestamp", "power", "watts", "accumulatedConsumption", "powerProduction",
                               "voltagePhase1", "currentL1", "signalStrength"]  # fmt: skip
        assert frame["watts"] == frame["power"]
        expected = simulator.data.live(homes[0].id, datetime.fromisoformat(frame["timestamp"]))
        assert frame["power"] == expected.power
        assert frame["accumulatedConsumption"] == expected.accumulated_consumption
        stamps = [f["timestamp"] for f in seen["a"]]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        await ws.send_json({"id": "a", "type": "complete"})
        await wait_until(lambda: simulator.stats.subscriptions("t") == {homes[1].id})
        assert simulator.stats.open_sockets("t") == 1
    await wait_until(lambda: simulator.stats.closed["t"] == [1000])
    assert simulator.stats.open_sockets("t") == 0
    assert simulator.stats.ws_connects["t"] == 1
    assert simulator.stats.queries["t"] == [LIVE, LIVE]


async def test_invalid_token_is_closed_with_4403(simulator: Simulator) -> None:
    async with socket(simulator) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"token": "wrong"}})
        assert await closed_with(ws) == (4403, "Invalid token")
    await wait_until(lambda: simulator.stats.closed["wrong"] == [4403])


async def test_empty_init_payload_is_closed_with_4500(simulator: Simulator) -> None:
    async with socket(simulator) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        code, _ = await closed_with(ws)
        assert code == 4500


async def test_legacy_graphql_ws_protocol_is_prohibited(simulator: Simulator) -> None:
    async with socket(simulator, protocols=("graphql-ws",)) as ws:
        message = await ws.receive_json(timeout=5)
        assert message == {"type": "connection_error", "payload": {"message": "Prohibited connection!"}}
        code, _ = await closed_with(ws)
        assert code == 1011


async def test_third_socket_of_a_token_is_closed_with_4429(simulator: Simulator) -> None:
    simulator.add_token("t", 1)
    simulator.add_token("other", 1)
    async with socket(simulator) as one, socket(simulator) as two:
        assert (await init(one, "t"))["type"] == "connection_ack"
        assert (await init(two, "t"))["type"] == "connection_ack"
        async with socket(simulator) as three:
            await three.send_json({"type": "connection_init", "payload": {"token": "t"}})
            assert await closed_with(three) == (4429, "Too many open connections on this server; count 2")
        async with socket(simulator) as elsewhere:  # the limit is per token
            assert (await init(elsewhere, "other"))["type"] == "connection_ack"
        assert simulator.stats.open_sockets("t") == 2
    await wait_until(lambda: sorted(simulator.stats.closed["t"]) == [1000, 1000, 4429])
    assert simulator.stats.ws_connects["t"] == 3


async def test_ping_gets_pong(simulator: Simulator) -> None:
    simulator.add_token("t", 1)
    async with socket(simulator) as ws:
        await init(ws, "t")
        await ws.send_json({"type": "ping"})
        assert await next_message(ws, "pong") == {"type": "pong"}


async def test_subscribe_errors_keep_the_socket(simulator: Simulator) -> None:
    home = simulator.add_token("t", 1)[0]
    async with socket(simulator) as ws:
        await init(ws, "t")
        await subscribe(ws, "x", "not-my-home")
        error = await next_message(ws, "error")
        assert error["id"] == "x" and "not-my-home" in error["payload"][0]["message"]
        await ws.send_json({"id": "y", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
        assert (await next_message(ws, "error"))["id"] == "y"
        await subscribe(ws, "z", home.id)
        assert (await next_message(ws))["id"] == "z"


async def test_server_complete_ends_one_subscription_only(simulator: Simulator) -> None:
    homes = simulator.add_token("t", 2)
    async with socket(simulator) as ws:
        await init(ws, "t")
        await subscribe(ws, "1", homes[0].id)
        await subscribe(ws, "2", homes[1].id)
        await wait_until(lambda: len(simulator.stats.subscriptions("t")) == 2)
        assert simulator.faults.complete("t", homes[0].id) == 1
        assert await next_message(ws, "complete") == {"id": "1", "type": "complete"}
        ids = {(await next_message(ws))["id"] for _ in range(6)}
        assert ids == {"2"}
        assert simulator.stats.subscriptions("t") == {homes[1].id}


async def test_drop_sockets_cuts_the_connection(simulator: Simulator) -> None:
    home = simulator.add_token("t", 1)[0]
    async with socket(simulator) as ws:
        await init(ws, "t")
        await subscribe(ws, "1", home.id)
        await next_message(ws)
        assert simulator.faults.drop_sockets("t") == 1
        msg = await ws.receive(timeout=5)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
    await wait_until(lambda: simulator.stats.closed["t"] == [1006])
    assert simulator.stats.open_sockets("t") == 0


async def test_stall_stops_frames_but_keeps_the_socket(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(frame_interval=0.02)
    home = sim.add_token("t", 1)[0]
    async with socket(sim) as ws:
        await init(ws, "t")
        await subscribe(ws, "1", home.id)
        await next_message(ws)
        sim.faults.stall("t", 0.5)
        await asyncio.sleep(0.05)
        while True:  # drain frames already on the wire
            try:
                await ws.receive_json(timeout=0.1)
            except TimeoutError:
                break
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json(timeout=1) == {"type": "pong"}  # alive, but silent
        assert sim.stats.open_sockets("t") == 1
        message = await next_message(ws)  # frames resume after the stall
        assert message["id"] == "1"


async def test_stopping_the_simulator_closes_sockets(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator()
    sim.add_token("t", 1)
    async with socket(sim) as ws:
        await init(ws, "t")
        await sim.stop()
        code, _ = await closed_with(ws)
        assert code == 1001
    assert json.dumps(sim.stats.closed["t"]) == "[1001]"


async def control(sim: Simulator, command: dict[str, Any]) -> Any:
    """``POST /_control`` over a real socket; returns the fault's result."""
    url = sim.url.replace("/v1-beta/gql", "/_control")
    async with aiohttp.ClientSession() as session, session.post(url, json=command) as response:
        body = await response.json()
        assert response.status == 200 and body["ok"] is True, body
        return body["result"]


async def frames_after_pong(ws: Any, count: int) -> list[str]:
    """Ping, skip what was on the wire before the pong, then the subscription ids of the next ``count`` frames.

    Every frame after the pong was made after whatever the test changed before the ping.
    """
    await ws.send_json({"type": "ping"})
    await next_message(ws, "pong")
    return [(await next_message(ws))["id"] for _ in range(count)]


async def test_stall_of_one_home_keeps_the_other_homes_streaming(make_simulator: SimulatorFactory) -> None:
    clock = FakeMonotonic()  # a timed stall ends when the test says so
    sim = await make_simulator(frame_interval=0.02, monotonic=clock)
    quiet, busy = sim.add_token("t", 2)
    async with socket(sim) as ws:
        await init(ws, "t")
        await subscribe(ws, "q", quiet.id)
        await subscribe(ws, "b", busy.id)
        assert {(await next_message(ws))["id"] for _ in range(6)} == {"q", "b"}
        sim.faults.stall("t", None, home_id=quiet.id)  # until resumed
        assert await frames_after_pong(ws, 15) == ["b"] * 15
        assert sim.stats.subscriptions("t") == {quiet.id, busy.id}  # still subscribed, only silent
        sim.faults.resume("t", home_id=quiet.id)
        assert "q" in await frames_after_pong(ws, 6)
        # the same over the control endpoint, for a while
        assert await control(sim, {"fault": "stall", "token": "t", "seconds": 60, "home_id": quiet.id}) is None
        assert await frames_after_pong(ws, 15) == ["b"] * 15
        clock.advance(60)
        assert "q" in await frames_after_pong(ws, 6)
        assert sim.stats.open_sockets("t") == 1


async def test_error_inside_next_keeps_the_subscription_open_until_the_client_completes_it(
    simulator: Simulator,
) -> None:
    failing, other = simulator.add_token("t", 2)
    async with socket(simulator) as ws:
        await init(ws, "t")
        await subscribe(ws, "f", failing.id)
        await subscribe(ws, "o", other.id)
        assert {(await next_message(ws))["id"] for _ in range(6)} == {"f", "o"}
        assert await control(simulator, {"fault": "next_error", "token": "t", "home_id": failing.id}) == 1
        message = await next_message(ws)
        while "errors" not in message["payload"]:
            message = await next_message(ws)
        expected_error = {"message": f"unable to start stream api:pulse for device {failing.id}"}
        assert message == {"id": "f", "type": "next", "payload": {"errors": [expected_error]}}
        assert await frames_after_pong(ws, 10) == ["o"] * 10  # the failed stream is silent...
        assert simulator.stats.subscriptions("t") == {failing.id, other.id}  # ...but open on the server
        await ws.send_json({"id": "f", "type": "complete"})
        await wait_until(lambda: simulator.stats.subscriptions("t") == {other.id})
        await subscribe(ws, "f2", failing.id)  # what a client does next: subscribe the home again
        ids = await frames_after_pong(ws, 6)
        assert set(ids) == {"f2", "o"}
        assert simulator.stats.subscription_log["t"] == [
            ("subscribe", "f", failing.id),
            ("subscribe", "o", other.id),
            ("next_error", "f", failing.id),
            ("complete", "f", failing.id),
            ("subscribe", "f2", failing.id),
        ]
        assert simulator.faults.next_error("t", failing.id, message="boom") == 1  # a message of one's own
        message = await next_message(ws)
        while "errors" not in message["payload"]:
            message = await next_message(ws)
        assert message == {"id": "f2", "type": "next", "payload": {"errors": [{"message": "boom"}]}}
