"""Tibber's limits and the fault switches, over real sockets."""

from __future__ import annotations

import time

import aiohttp

from tests.fixtures.sim import FIXED_NOW, FakeMonotonic, SimulatorFactory, gql
from tibber_tui.simulator import Simulator
from tibber_tui.simulator.limits import TOO_MANY_REQUESTS_BODY

QUERY = "{ viewer { homes { id } } }"
HISTORY = """query ($id: ID!) { viewer { home(id: $id) {
  consumption(resolution: HOURLY, last: 10) { nodes { from consumption } }
  production(resolution: HOURLY, last: 10) { edges { node { from production } } } } } }"""


async def test_rate_limit_bans_renews_and_recovers(make_simulator: SimulatorFactory) -> None:
    clock = FakeMonotonic(1024.0)  # the limiter's time: exact, and no real waiting for the ban
    sim = await make_simulator(rate_limit=3, rate_window=5.0, ban_seconds=1.0, monotonic=clock)
    sim.add_token("t", 1)
    statuses = [(await gql(sim, QUERY, "t"))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, body = await gql(sim, QUERY, "t")
    assert status == 429 and body == TOO_MANY_REQUESTS_BODY
    # (steps that are exact binary fractions, so the boundary below is exact too)
    clock.advance(0.75)
    assert (await gql(sim, QUERY, "t"))[0] == 429  # traffic during the ban renews it
    clock.advance(0.75)
    assert (await gql(sim, QUERY, "t"))[0] == 429  # 1.5 s after the first 429, but renewed 0.75 s ago
    clock.advance(0.875)
    assert sim.limiter.banned("127.0.0.1")  # (asking does not renew it)
    clock.advance(0.125)
    assert not sim.limiter.banned("127.0.0.1")  # exactly one ban length after the last renewal
    assert (await gql(sim, QUERY, "t"))[0] == 200
    assert sim.stats.requests["t"] == 8 and sim.stats.rate_limited == 4


async def test_websocket_upgrade_while_banned_gets_429(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(rate_limit=1, ban_seconds=30)
    sim.add_token("t", 1)
    assert (await gql(sim, QUERY, "t"))[0] == 200
    assert (await gql(sim, QUERY, "t"))[0] == 429
    headers = {"User-Agent": "tests/1", "Authorization": "Bearer t"}
    async with aiohttp.ClientSession() as session:
        try:
            await session.ws_connect(sim.ws_url, protocols=["graphql-transport-ws"], headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 429
        else:
            raise AssertionError("upgrade was accepted during a ban")
    assert sim.stats.ws_connects["t"] == 1
    sim.faults.reset()
    assert (await gql(sim, QUERY, "t"))[0] == 200


async def test_http_errors_html_and_slow_answers(simulator: Simulator) -> None:
    simulator.add_token("t", 1)
    simulator.faults.http_errors(2, status=502)
    simulator.faults.html_body(1)
    results = [await gql(simulator, QUERY, "t") for _ in range(4)]
    assert [r[0] for r in results] == [502, 502, 200, 200]
    assert isinstance(results[2][1], str) and results[2][1].startswith("<html>")
    assert results[3][1]["data"]["viewer"]["homes"]
    simulator.faults.slow(0.3)
    started = time.monotonic()
    assert (await gql(simulator, QUERY, "t"))[0] == 200
    assert time.monotonic() - started >= 0.3


async def test_malformed_node_breaks_one_node_of_the_next_answer(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW)
    home = sim.add_token("t", 1, producing=1)[0]
    sim.faults.malformed_node(home.id, field="consumption")
    _, body = await gql(sim, HISTORY, "t", {"id": home.id})
    nodes = body["data"]["viewer"]["home"]["consumption"]["nodes"]
    assert [n["consumption"] for n in nodes].count("not-a-number") == 1
    assert nodes[5]["consumption"] == "not-a-number"
    sim.faults.malformed_node(home.id)  # field "from"
    _, body = await gql(sim, HISTORY, "t", {"id": home.id})
    edges = body["data"]["viewer"]["home"]["production"]["edges"]
    assert [e["node"]["from"] for e in edges].count("not-a-timestamp") == 1
    _, body = await gql(sim, HISTORY, "t", {"id": home.id})
    assert "not-a-timestamp" not in str(body) and "not-a-number" not in str(body)


async def test_control_endpoint_switches_faults(simulator: Simulator) -> None:
    simulator.add_token("t", 1)
    control = simulator.url.replace("/v1-beta/gql", "/_control")
    async with aiohttp.ClientSession() as session:
        async with session.post(control, json={"fault": "http_errors", "count": 1, "status": 503}) as response:
            assert response.status == 200 and (await response.json())["ok"] is True
        async with session.post(control, json={"fault": "explode"}) as response:
            assert response.status == 400 and "unknown fault" in (await response.json())["error"]
    assert (await gql(simulator, QUERY, "t"))[0] == 503
    assert (await gql(simulator, QUERY, "t"))[0] == 200
