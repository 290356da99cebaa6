"""Each error class of the client against the simulator: what is retried, what is not, what the user reads."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from tests.fixtures.sim import SimulatorFactory
from tibber_tui.errors import describe
from tibber_tui.simulator import Simulator
from tibber_tui.tibber.budget import Priority, RateBudget
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.errors import ApiBug, InvalidToken, RateLimited, TransientApiError
from tibber_tui.tibber.models import HistoryRequest

TOKEN = "valid-token-ABCDEFGHIJKLMNOP-1"
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)

ClientFactory = Callable[..., TibberClient]


class RecordingSleep:
    """Records requested delays and sleeps a tiny real time instead."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0.001)


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[TibberClient] = []

    def make(url: str, token: str = TOKEN, **options: object) -> TibberClient:
        options.setdefault("budget", RateBudget(limit=1000, window=1.0))
        client = TibberClient(token, api_url=url, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def sim(make_simulator: SimulatorFactory) -> Simulator:
    simulator = await make_simulator(clock=lambda: NOW)
    simulator.add_token(TOKEN, 2)
    return simulator


async def test_invalid_token_is_not_retried_and_never_printed_whole(sim: Simulator, make_client: ClientFactory) -> None:
    bad = "not-a-real-token-XYZW9876"
    sleep = RecordingSleep()
    client = make_client(sim.url, bad, sleep=sleep)
    with pytest.raises(InvalidToken) as caught:
        await client.viewer()
    assert sim.stats.requests[bad] == 1
    assert sleep.delays == []
    message = describe(caught.value)
    assert bad not in message
    assert "…9876" in message
    assert "\n" not in message


async def test_http_429_raises_rate_limited_and_blocks_the_whole_budget(
    make_simulator: SimulatorFactory, make_client: ClientFactory
) -> None:
    sim = await make_simulator(clock=lambda: NOW, rate_limit=3, rate_window=60.0, ban_seconds=0.4)
    sim.add_token(TOKEN, 1)
    sim.add_token("other-token-000000000000", 1)
    budget = RateBudget(limit=100, window=60.0)
    client = make_client(sim.url, budget=budget, rate_limit_cooldown=0.5)
    other = make_client(sim.url, "other-token-000000000000", budget=budget, rate_limit_cooldown=0.5)
    for _ in range(3):
        await client.viewer()
    with pytest.raises(RateLimited) as caught:
        await client.viewer()
    assert caught.value.retry_after == pytest.approx(0.5)
    assert "429" in str(caught.value)
    assert budget.snapshot().blocked_for > 0.3
    # another token shares the budget: it waits out the penalty instead of renewing the ban
    started = time.monotonic()
    sim.faults.rate_limit(100, 60.0, 0.4)  # the ban is over once the penalty is
    viewer = await other.viewer()
    assert time.monotonic() - started >= 0.35
    assert viewer.homes
    assert sim.stats.requests[TOKEN] == 4


@pytest.mark.parametrize("fault", ["http_errors", "html_body"])
async def test_5xx_and_html_bodies_are_retried_with_backoff(
    sim: Simulator, make_client: ClientFactory, fault: str
) -> None:
    sleep = RecordingSleep()
    client = make_client(sim.url, sleep=sleep, max_retries=3)
    getattr(sim.faults, fault)(2)
    viewer = await client.viewer()
    assert len(viewer.homes) == 2
    assert sim.stats.requests[TOKEN] == 3
    assert len(sleep.delays) == 2


async def test_persistent_5xx_gives_up_after_max_retries_with_one_line(
    sim: Simulator, make_client: ClientFactory
) -> None:
    sleep = RecordingSleep()
    client = make_client(sim.url, sleep=sleep, max_retries=2)
    sim.faults.http_errors(10, status=502)
    with pytest.raises(TransientApiError) as caught:
        await client.prices([h.id for h in sim.tokens[TOKEN]])
    assert sim.stats.requests[TOKEN] == 3
    assert "HTTP 502" in str(caught.value)
    assert "\n" not in describe(caught.value)
    assert len(sleep.delays) == 2 and all(0 <= d <= 30 for d in sleep.delays)


async def test_graphql_validation_error_is_an_api_bug_not_retried(sim: Simulator, make_client: ClientFactory) -> None:
    sleep = RecordingSleep()
    client = make_client(sim.url, sleep=sleep)
    with pytest.raises(ApiBug) as caught:
        await client.execute("query { viewer { noSuchField } }", {}, Priority.LIVE)
    assert sim.stats.requests[TOKEN] == 1
    assert sleep.delays == []
    assert "noSuchField" in str(caught.value)


async def test_slow_answer_times_out_as_transient(sim: Simulator, make_client: ClientFactory) -> None:
    sim.faults.slow(2.0)
    client = make_client(sim.url, timeout=0.3, max_retries=1, sleep=RecordingSleep())
    started = time.monotonic()
    with pytest.raises(TransientApiError):
        await client.viewer()
    assert time.monotonic() - started < 1.9
    sim.faults.slow(0)


async def test_unreachable_api_is_one_clear_transient_error(make_client: ClientFactory) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep = RecordingSleep()
    client = make_client(f"http://127.0.0.1:{port}/v1-beta/gql", sleep=sleep, max_retries=2)
    with pytest.raises(TransientApiError) as caught:
        await client.history([HistoryRequest("h", None)])
    message = describe(caught.value)
    assert "could not reach the Tibber API" in message and f":{port}/" in message
    assert TOKEN not in message and "\n" not in message
    assert len(sleep.delays) == 2
