"""The dashboard with real collectors: the Manager in the app's worker, a headless instance next to an observer.

Real PostgreSQL, the simulator over real sockets, the real Manager with short intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import uuid
from collections.abc import Callable

import asyncpg

from tests.integration.collector_support import FAST_TIMINGS
from tests.ui.helpers import cell_text, screen_text, wait_for
from tibber_tui.collector.events import EventSink, ListSink
from tibber_tui.collector.manager import Manager
from tibber_tui.config import Config
from tibber_tui.db.store import Store
from tibber_tui.secrets import mask_token
from tibber_tui.simulator import Simulator
from tibber_tui.ui.app import TibberApp, make_app
from tibber_tui.ui.collector_host import CollectorHost
from tibber_tui.ui.widgets.event_log import EventLog

TOKEN = "SIMTOKEN-UI-00000000000000000000000000000000AB12"
TIMINGS = dataclasses.replace(FAST_TIMINGS, stale_after=2.0)


def _config(database_url: str, simulator: Simulator) -> Config:
    return Config(
        database_url=database_url,
        api_url=simulator.url,
        lease_ttl=3.0,
        lease_renew=1.0,
        reconcile_interval=5.0,
        flush_interval=0.1,
        price_history_days=1,
        history_limit_days=2,
        rate_limit_requests=1000,
    )


def _manager_factory(config: Config, dsn: str, sink: EventSink, observe: bool) -> CollectorHost:
    return Manager(config, dsn, sink, mode="tui", observe=observe, timings=TIMINGS)


def _app(config: Config, database_url: str, *, observe: bool) -> TibberApp:
    return make_app(
        config,
        database_url,
        observe=observe,
        manager_factory=_manager_factory,
        refresh_interval=0.2,
        redraw_interval=0.1,
    )


WATTS = re.compile(r"-?\d+(\.\d)? k?W")
"""A live power cell: ``950 W``, ``3.2 kW``."""


def _token_state(app: TibberApp, token_id: int) -> str | None:
    return cell_text(app, "#tokens", str(token_id), "state")


def _home_live(app: TibberApp) -> str | None:
    return cell_text(app, "#homes", app.selected_home, "live") if app.selected_home else None


def _graph_samples(app: TibberApp) -> int:
    home = app.selected_home
    return len(app.live.samples.ring(home)) if home else 0


async def test_toggle_key_stops_and_resumes_the_live_stream(
    simulator: Simulator, database_url: str, store: Store, pool: asyncpg.Pool
) -> None:
    simulator.add_token(TOKEN, homes=2, producing=1)
    row = await store.add_token(TOKEN, "Simulated")
    app = _app(_config(database_url, simulator), database_url, observe=False)
    async with app.run_test(size=(100, 30)) as pilot:
        # the token's own row says so (the status line's "collecting 0 token(s)" would match any screen)
        await wait_for(lambda: _token_state(app, row.id) == "collecting", limit=20, what="the token collected here")
        await wait_for(lambda: simulator.stats.open_sockets(TOKEN) == 1, what="the websocket")
        await wait_for(lambda: _graph_samples(app) >= 3, what="live samples in the graph's buffer")
        # live power in the selected home's row of the homes pane (the graph's axis also says "W")
        await wait_for(lambda: WATTS.fullmatch(_home_live(app) or "") is not None, what="live power in the row")

        await pilot.press("t")
        await wait_for(lambda: simulator.stats.open_sockets(TOKEN) == 0, what="the socket to close")
        assert 1000 in simulator.stats.closed[TOKEN]
        assert await pool.fetchval("SELECT active FROM tibber.tibber_tokens WHERE id = $1", row.id) is False
        await wait_for(lambda: _token_state(app, row.id) == "idle", what="the idle state")  # not "API: idle"
        assert "stopped Simulated" in screen_text(app)

        await pilot.press("t")
        await wait_for(lambda: simulator.stats.open_sockets(TOKEN) == 1, what="the socket to reopen")
        await wait_for(lambda: _token_state(app, row.id) == "collecting", what="collecting again")
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, what="the app to exit")
    # quitting stopped the collector cleanly: socket closed, lease released
    await wait_for(lambda: simulator.stats.open_sockets(TOKEN) == 0, what="the socket to close at exit")
    owner = await pool.fetchval(
        "SELECT owner FROM tibber.token_leases WHERE token_id = $1 AND expires_at > now()", row.id
    )
    assert owner is None


async def test_observer_shows_live_data_of_a_headless_instance(
    simulator: Simulator, database_url: str, store: Store
) -> None:
    simulator.add_token(TOKEN, homes=1)
    await store.add_token(TOKEN, "Server token")
    config = _config(database_url, simulator)
    headless = Manager(config, database_url, ListSink(), mode="headless", timings=TIMINGS)
    task = asyncio.create_task(headless.run())
    try:
        app = _app(config, database_url, observe=True)
        async with app.run_test(size=(100, 30)):
            host = socket.gethostname()
            await wait_for(
                lambda: f"collected by another instance: {host}" in screen_text(app), limit=20, what="the owner"
            )
            await wait_for(lambda: _graph_samples(app) >= 3, limit=10, what="samples read from the database")
            first = _graph_samples(app)
            await wait_for(lambda: _graph_samples(app) > first + 3, what="the graph to keep growing")
            assert "observing" in screen_text(app)
            assert simulator.stats.ws_connects[TOKEN] == 1  # the observer opened no websocket of its own
            assert app.manager is not None and app.manager.collected_tokens() == set()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _Crashing:
    """A collector host that fails at once: the app must log it and start another one."""

    def __init__(self, calls: list[int]) -> None:
        self.calls = calls
        self.instance_id = __import__("uuid").UUID(int=0)

    async def run(self) -> None:
        self.calls.append(1)
        raise RuntimeError("collector exploded")

    def collected_tokens(self) -> set[int]:
        return set()


async def test_a_failing_collector_is_logged_and_restarted(database_url: str) -> None:
    calls: list[int] = []
    factory: Callable[[Config, str, EventSink, bool], CollectorHost] = lambda *_: _Crashing(calls)  # noqa: E731
    app = make_app(Config(database_url=database_url), database_url, manager_factory=factory, redraw_interval=0.05)
    async with app.run_test(size=(100, 30)):
        await wait_for(lambda: "collector failed" in screen_text(app), what="the failure in the log")
        line = next(line for line in app.query_one(EventLog).lines_written if "collector failed" in line)
        assert "collector exploded" in line and "restarting in 1s" in line  # the full line (the pane crops it)
        await wait_for(lambda: len(calls) >= 2, limit=5, what="the restart")
        assert app.is_running


class _CrashingWithToken:
    """A collector host that fails, once the dashboard has read the tokens, naming a token in its error."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.instance_id = uuid.UUID(int=0)

    async def run(self) -> None:
        await self.gate.wait()
        raise RuntimeError(f"HTTP 401 for {TOKEN}")

    def collected_tokens(self) -> set[int]:
        return set()


async def test_a_collector_crash_message_never_shows_a_token(database_url: str, store: Store) -> None:
    await store.add_token(TOKEN, "Leaky")
    gate = asyncio.Event()
    factory: Callable[[Config, str, EventSink, bool], CollectorHost] = lambda *_: _CrashingWithToken(gate)  # noqa: E731
    app = make_app(Config(database_url=database_url), database_url, manager_factory=factory, redraw_interval=0.05)
    async with app.run_test(size=(100, 30)):
        await wait_for(lambda: "Leaky" in screen_text(app), what="the tokens read")
        gate.set()
        await wait_for(lambda: "collector failed" in screen_text(app), what="the failure in the log")
        line = next(line for line in app.query_one(EventLog).lines_written if "collector failed" in line)
        assert f"HTTP 401 for {mask_token(TOKEN)}" in line and TOKEN not in line
        assert TOKEN not in screen_text(app)
