"""Snapshot tests of a deterministic dashboard: frozen clock, seeded database, no collector.

Regenerate with ``uv run pytest tests/ui --snapshot-update`` and look at the SVGs in ``__snapshots__/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.ui.helpers import screen_text, seed, wait_for
from tibber_tui.db.connection import create_pool
from tibber_tui.db.store import Store
from tibber_tui.ui.app import TibberApp

SnapCompare = Callable[..., bool]


def _seed(database_url: str) -> None:
    async def run() -> None:
        pool = await create_pool(database_url)
        try:
            await seed(Store(pool))
        finally:
            await pool.close()

    asyncio.run(run())


async def _settled(pilot: Pilot[Any]) -> None:
    """Wait until the seeded data and the database state are drawn, then freeze what could still move."""
    app = pilot.app
    assert isinstance(app, TibberApp)
    await wait_for(lambda: all(t in screen_text(app) for t in ("Family", "database ok", "Quit", "production")))
    for field in app.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def _app(observer_app: Callable[..., TibberApp]) -> TibberApp:
    # A slow refresh: nothing re-reads the database while the screenshot is taken.
    return observer_app(refresh_interval=60.0)


def test_dashboard_80x24(snap_compare: SnapCompare, observer_app: Callable[..., TibberApp], database_url: str) -> None:
    _seed(database_url)
    assert snap_compare(_app(observer_app), terminal_size=(80, 24), run_before=_settled)


def test_dashboard_120x40(snap_compare: SnapCompare, observer_app: Callable[..., TibberApp], database_url: str) -> None:
    _seed(database_url)
    assert snap_compare(_app(observer_app), terminal_size=(120, 40), run_before=_settled)


def test_dashboard_1h_window_second_home(
    snap_compare: SnapCompare, observer_app: Callable[..., TibberApp], database_url: str
) -> None:
    _seed(database_url)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settled(pilot)
        await pilot.press("2", "down", "w")
        await wait_for(lambda: "Power of Flat · 1 h" in screen_text(pilot.app))

    assert snap_compare(_app(observer_app), terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare: SnapCompare, observer_app: Callable[..., TibberApp], database_url: str) -> None:
    _seed(database_url)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settled(pilot)
        await pilot.press("f1")
        await wait_for(lambda: "collected by another instance" in screen_text(pilot.app))

    assert snap_compare(_app(observer_app), terminal_size=(80, 24), run_before=run_before)


def test_add_token_dialog(snap_compare: SnapCompare, observer_app: Callable[..., TibberApp], database_url: str) -> None:
    _seed(database_url)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settled(pilot)
        await pilot.press("a", *"abc")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await wait_for(lambda: "Too short" in screen_text(pilot.app))

    assert snap_compare(_app(observer_app), terminal_size=(80, 24), run_before=run_before)
