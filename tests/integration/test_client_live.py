"""LiveStream against the simulator's websocket: frames, drops, stalls, server complete, limits, clean stop."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.waiting import wait_until
from tibber_tui.simulator import Simulator
from tibber_tui.tibber.budget import RateBudget
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.errors import InvalidToken
from tibber_tui.tibber.live import LiveStream
from tibber_tui.tibber.models import LiveMeasurement

TOKEN = "live-token-0123456789ABCDEF"
STREAM_STATES = {"connecting", "connected", "stale", "reconnecting", "cooling_down", "closed"}
"""The states of ``collector.events.StreamStateChanged``."""


class RecordingSleep:
    """Records the requested delays; really sleeps only ``real`` seconds."""

    def __init__(self, real: float = 0.01) -> None:
        self.delays: list[float] = []
        self.real = real

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(min(seconds, self.real))


@dataclass
class Harness:
    """A running LiveStream and what it handed on."""

    stream: LiveStream
    task: asyncio.Task[None]
    frames: list[LiveMeasurement] = field(default_factory=list)
    states: list[tuple[str, str]] = field(default_factory=list)

    def frames_of(self, home_id: str) -> list[LiveMeasurement]:
        return [f for f in self.frames if f.home_id == home_id]

    def state_names(self) -> list[str]:
        return [s for s, _ in self.states]

    def largest_gap(self, home_id: str) -> float:
        """The longest pause (seconds, by frame timestamp) between two frames of ``home_id``."""
        stamps = [f.timestamp.timestamp() for f in self.frames_of(home_id)]
        return max(b - a for a, b in itertools.pairwise(stamps))


StartStream = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_stream() -> AsyncIterator[StartStream]:
    harnesses: list[Harness] = []
    clients: list[TibberClient] = []

    async def start(
        sim: Simulator,
        home_ids: Callable[[], list[str]],
        *,
        token: str = TOKEN,
        client_token: str | None = None,
        budget: RateBudget | None = None,
        **options: Any,
    ) -> Harness:
        client = TibberClient(
            client_token or token, api_url=sim.url, budget=budget or RateBudget(limit=1000, window=1.0)
        )
        clients.append(client)
        options.setdefault("ping_interval", 0.2)
        options.setdefault("stale_after", 2.0)
        options.setdefault("backoff", lambda failures: 0.05)
        options.setdefault("resubscribe_delay", 0.05)
        holder: dict[str, Harness] = {}
        stream = LiveStream(
            token,
            client=client,
            home_ids=home_ids,
            on_measurement=lambda m: holder["h"].frames.append(m),
            on_state=lambda state, detail: holder["h"].states.append((state, detail)),
            **options,
        )
        harness = Harness(stream, asyncio.create_task(stream.run()))
        holder["h"] = harness
        harnesses.append(harness)
        return harness

    yield start
    for harness in harnesses:
        await harness.stream.stop()
        if not harness.task.done():
            harness.task.cancel()
        await asyncio.gather(harness.task, return_exceptions=True)
    for client in clients:
        await client.close()


async def test_frames_of_every_home_arrive_and_match_the_simulator(
    simulator: Simulator, start_stream: StartStream
) -> None:
    homes = simulator.add_token(TOKEN, 2, producing=1)
    ids = [h.id for h in homes]
    live = await start_stream(simulator, lambda: ids)
    await wait_until(lambda: all(len(live.frames_of(h)) >= 5 for h in ids), what="5 frames per home")
    assert simulator.stats.subscriptions(TOKEN) == set(ids)
    assert simulator.stats.open_sockets(TOKEN) == 1  # one socket carries every home
    for frame in live.frames[:10]:
        expected = simulator.data.live(frame.home_id, frame.timestamp)
        assert frame.power == expected.power
        assert frame.accumulated_consumption == expected.accumulated_consumption
        assert frame.power_production == expected.power_production
    producer = live.frames_of(homes[0].id)
    assert all(f.timestamp.tzinfo is not None for f in producer)
    # some frames lack phase values: None, never 0
    assert any(f.voltage_phase1 is None for f in live.frames)
    assert live.state_names()[:2] == ["connecting", "connected"]
    assert set(live.state_names()) <= STREAM_STATES


async def test_stop_completes_subscriptions_and_closes_1000_within_a_second(
    simulator: Simulator, start_stream: StartStream
) -> None:
    homes = simulator.add_token(TOKEN, 3)
    live = await start_stream(simulator, lambda: [h.id for h in homes])
    await wait_until(lambda: len(live.frames) >= 6, what="frames")
    started = time.monotonic()
    await live.stream.stop()
    await asyncio.wait_for(live.task, 1.0)
    assert time.monotonic() - started < 1.0
    await wait_until(lambda: simulator.stats.open_sockets(TOKEN) == 0, 1.0, "socket closed")
    assert simulator.stats.closed[TOKEN] == [1000]
    assert simulator.stats.subscriptions(TOKEN) == set()
    assert live.state_names()[-1] == "closed"
    count = len(live.frames)
    await asyncio.sleep(0.2)
    assert len(live.frames) == count  # nothing after stop


async def test_cancelling_run_also_closes_cleanly(simulator: Simulator, start_stream: StartStream) -> None:
    (home,) = simulator.add_token(TOKEN, 1)
    live = await start_stream(simulator, lambda: [home.id])
    await wait_until(lambda: len(live.frames) >= 2, what="frames")
    live.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(live.task, 1.0)
    await wait_until(lambda: simulator.stats.open_sockets(TOKEN) == 0, 1.0, "socket closed")
    assert simulator.stats.closed[TOKEN] == [1000]


async def test_survives_a_dropped_socket(simulator: Simulator, start_stream: StartStream) -> None:
    homes = simulator.add_token(TOKEN, 2)
    ids = [h.id for h in homes]
    live = await start_stream(simulator, lambda: ids)
    await wait_until(lambda: len(live.frames) >= 4, what="frames")
    assert simulator.faults.drop_sockets(TOKEN) == 1
    seen = len(live.frames)
    await wait_until(lambda: simulator.stats.ws_connects[TOKEN] == 2, what="reconnect")
    await wait_until(lambda: all(len(live.frames_of(h)) >= 3 for h in ids) and len(live.frames) > seen + 4)
    assert "reconnecting" in live.state_names()
    assert live.state_names().count("connected") == 2
    assert simulator.stats.closed[TOKEN] == [1006]
    assert simulator.stats.subscriptions(TOKEN) == set(ids)


async def test_a_stalled_stream_goes_stale_and_reconnects(simulator: Simulator, start_stream: StartStream) -> None:
    (home,) = simulator.add_token(TOKEN, 1)
    live = await start_stream(simulator, lambda: [home.id], stale_after=0.4, ping_interval=0.1)
    await wait_until(lambda: len(live.frames) >= 2, what="frames")
    simulator.faults.stall(TOKEN, 0.6)
    await wait_until(lambda: "stale" in live.state_names(), what="stale")
    stalled_at = len(live.frames)
    await wait_until(lambda: len(live.frames) >= stalled_at + 3, what="frames after the stall")
    assert simulator.stats.ws_connects[TOKEN] >= 2
    assert live.stream.stats.stale >= 1
    assert simulator.stats.closed[TOKEN][0] == 1000  # the stale socket was closed by us, cleanly


async def test_server_complete_resubscribes_that_home_without_dropping_the_others(
    simulator: Simulator, start_stream: StartStream
) -> None:
    ended, other = simulator.add_token(TOKEN, 2)
    live = await start_stream(simulator, lambda: [ended.id, other.id], resubscribe_delay=0.5)
    await wait_until(lambda: len(live.frames_of(ended.id)) >= 2, what="frames")
    assert simulator.faults.complete(TOKEN, ended.id) == 1
    ended_before = len(live.frames_of(ended.id))
    await wait_until(lambda: len(live.frames_of(ended.id)) >= ended_before + 3, what="resubscribed frames")
    assert live.largest_gap(ended.id) >= 0.45  # paused for the resubscribe delay...
    assert live.largest_gap(other.id) < 0.3  # ...while the other home kept streaming on the same socket
    assert simulator.stats.subscriptions(TOKEN) == {ended.id, other.id}
    assert simulator.stats.ws_connects[TOKEN] == 1  # same socket all along
    assert live.stream.stats.resubscribes == 1


async def test_errors_inside_next_complete_that_subscription_and_resubscribe_its_home(
    simulator: Simulator, start_stream: StartStream
) -> None:
    failing, other = simulator.add_token(TOKEN, 2)
    live = await start_stream(simulator, lambda: [failing.id, other.id], resubscribe_delay=0.5)
    await wait_until(lambda: all(len(live.frames_of(h)) >= 2 for h in (failing.id, other.id)), what="frames")
    log = simulator.stats.subscription_log[TOKEN]
    (first,) = [sub for what, sub, home in log if what == "subscribe" and home == failing.id]
    assert simulator.faults.next_error(TOKEN, failing.id) == 1  # the server keeps it open until completed

    def resubscribed() -> str | None:
        again = [sub for what, sub, home in log if what == "subscribe" and home == failing.id and sub != first]
        return again[0] if again else None

    second = await wait_until(resubscribed, what="the home subscribed again")
    # The client completed exactly the failed subscription, and only then subscribed the home again.
    assert [(what, sub) for what, sub, home in log if home == failing.id] == [
        ("subscribe", first),
        ("next_error", first),
        ("complete", first),
        ("subscribe", second),
    ]
    assert [what for what, _, home in log if home == other.id] == ["subscribe"]  # the other home left alone
    ended_before = len(live.frames_of(failing.id))
    await wait_until(lambda: len(live.frames_of(failing.id)) >= ended_before + 3, what="frames of the home again")
    assert live.largest_gap(failing.id) >= 0.45  # silent from the error until the delayed resubscribe...
    assert live.largest_gap(other.id) < 0.3  # ...while the other home never stopped, on the same socket
    assert simulator.stats.subscriptions(TOKEN) == {failing.id, other.id}
    assert simulator.stats.ws_connects[TOKEN] == 1
    assert live.stream.stats.resubscribes == 1
    assert live.stream.stats.malformed == 0


async def test_new_home_is_subscribed_on_the_open_socket(simulator: Simulator, start_stream: StartStream) -> None:
    first, second = simulator.add_token(TOKEN, 2)
    wanted = [first.id]
    live = await start_stream(simulator, lambda: wanted, ping_interval=0.1)
    await wait_until(lambda: len(live.frames) >= 2, what="frames")
    wanted.append(second.id)
    await wait_until(lambda: len(live.frames_of(second.id)) >= 2, what="frames of the added home")
    wanted.remove(first.id)
    await wait_until(lambda: simulator.stats.subscriptions(TOKEN) == {second.id}, what="completed removed home")
    assert simulator.stats.ws_connects[TOKEN] == 1


async def test_invalid_token_on_the_socket_raises_and_never_loops(
    simulator: Simulator, start_stream: StartStream
) -> None:
    (home,) = simulator.add_token(TOKEN, 1)
    wrong = "revoked-token-XXXXXXXX4403"
    live = await start_stream(simulator, lambda: [home.id], token=wrong, client_token=TOKEN)
    with pytest.raises(InvalidToken) as caught:
        await asyncio.wait_for(live.task, 5)
    assert "4403" in str(caught.value)
    assert wrong not in str(caught.value)
    await asyncio.sleep(0.2)
    assert simulator.stats.ws_connects[TOKEN] == 1
    assert simulator.stats.closed[wrong] == [4403]
    assert live.state_names()[-1] == "closed"


async def test_4429_cools_down_for_minutes_without_a_reconnect_storm(
    simulator: Simulator, start_stream: StartStream
) -> None:
    (home,) = simulator.add_token(TOKEN, 1)
    first = await start_stream(simulator, lambda: [home.id])
    second = await start_stream(simulator, lambda: [home.id])
    await wait_until(lambda: simulator.stats.open_sockets(TOKEN) == 2, what="two sockets")
    sleep = RecordingSleep(real=0.1)
    started = time.monotonic()
    third = await start_stream(simulator, lambda: [home.id], sleep=sleep)

    def settled_attempts() -> int:
        """Refused attempts once 0.6 s have passed and both sides have counted the same ones (0 = not yet)."""
        attempts = simulator.stats.ws_connects[TOKEN] - 2
        stats = third.stream.stats
        counted = stats.connects == stats.cooldowns == attempts == simulator.stats.closed[TOKEN].count(4429)
        return attempts if time.monotonic() - started >= 0.6 and counted else 0

    attempts = await wait_until(settled_attempts, what="refused attempts seen by both sides")
    elapsed = time.monotonic() - started
    assert third.stream.stats.connects == attempts
    # no storm: every attempt after the first waited out a cool-down (really 0.1 s here), e.g. at most 7 in 0.6 s
    assert 1 <= attempts <= 1 + elapsed / 0.1
    assert simulator.stats.closed[TOKEN].count(4429) == attempts
    # every attempt after a 4429 waited minutes (scaled down by the injected sleep), never a backoff of seconds
    assert len(sleep.delays) >= attempts - 1
    assert all(delay >= 120 for delay in sleep.delays)
    assert "cooling_down" in third.state_names()
    assert third.stream.stats.cooldowns == attempts
    assert len(first.frames) > 0 and len(second.frames) > 0


async def test_http_429_on_the_upgrade_pauses_everything_for_the_ban(
    make_simulator: SimulatorFactory, start_stream: StartStream
) -> None:
    sim = await make_simulator(rate_limit=1, rate_window=60.0, ban_seconds=30.0)
    (home,) = sim.add_token(TOKEN, 1)
    budget = RateBudget(limit=50, window=60.0)
    live = await start_stream(sim, lambda: [home.id], budget=budget, sleep=RecordingSleep(real=0.05))
    await wait_until(lambda: "cooling_down" in live.state_names(), what="cool-down")
    await asyncio.sleep(0.5)
    # the viewer request passed, the upgrade got 429: after that, nothing more is sent while banned
    assert sim.stats.requests[TOKEN] == 1
    assert sim.stats.ws_connects[TOKEN] == 1
    assert budget.snapshot().blocked_for > 500
    started = time.monotonic()
    await live.stream.stop()
    await asyncio.wait_for(live.task, 1.0)
    assert time.monotonic() - started < 1.0
