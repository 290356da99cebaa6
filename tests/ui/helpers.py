"""Helpers for the dashboard tests: the screen as text, deterministic seed data, waiting for conditions."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from rich.console import Console
from textual.app import App
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnDoesNotExist, RowDoesNotExist

from tibber_tui.db.store import Store
from tibber_tui.tibber.models import Address, Home, LiveMeasurement, Price

FIXED_NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
"""The frozen clock of the deterministic tests (a winter weekday, noon UTC)."""

TOKEN_A = "SEEDTOKEN-ALPHA-0000000000000000000000000000A1B2"
TOKEN_B = "SEEDTOKEN-BRAVO-0000000000000000000000000000C3D4"
TOKEN_C = "SEEDTOKEN-CHARLIE-00000000000000000000000000E5F6"


def fixed_clock() -> datetime:
    return FIXED_NOW


def screen_text(app: App[object]) -> str:
    """What the terminal shows right now, as plain text (the same render as a screenshot)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True, legacy_windows=False
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def cell_text(app: App[object], table: str, row: str, column: str) -> str | None:
    """The plain text of one DataTable cell (``table`` a selector), None while that row or column is absent."""
    try:
        return str(app.query_one(table, DataTable).get_cell(row, column))
    except (CellDoesNotExist, RowDoesNotExist, ColumnDoesNotExist):
        return None


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], limit: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` every 50 ms until true; fail after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what or condition}")
        await asyncio.sleep(0.05)


def _home(hid: str, nickname: str, city: str, address: str, *, production: bool = False) -> Home:
    return Home(
        id=hid,
        nickname=nickname,
        time_zone="Europe/Oslo",
        address=Address(address1=address, postal_code="0150", city=city, country="NO"),
        realtime_enabled=True,
        has_production=production,
        subscription_status="running",
        currency="NOK",
    )


HOME_OSLO = _home("11111111-aaaa-4000-8000-000000000001", "Flat", "Oslo", "Storgata 1")
HOME_CABIN = _home("11111111-aaaa-4000-8000-000000000002", "Cabin", "Geilo", "Fjellvegen 7", production=True)
HOME_BERGEN = _home("22222222-bbbb-4000-8000-000000000003", "Office", "Bergen", "Bryggen 3")


async def seed(store: Store, now: datetime = FIXED_NOW) -> dict[str, int]:
    """Three tokens (one failed, one inactive), three homes, prices, 5 minutes of live data, loader rows."""
    a = await store.add_token(TOKEN_A, "Family")
    b = await store.add_token(TOKEN_B, "Office", active=False)
    c = await store.add_token(TOKEN_C, "Old token")
    await store.upsert_homes(a.id, [HOME_OSLO, HOME_CABIN])
    await store.upsert_homes(b.id, [HOME_BERGEN])
    await store.set_token_status(c.id, "failed", "invalid token (4403)")
    for home, base in ((HOME_OSLO, 1.10), (HOME_CABIN, 0.55), (HOME_BERGEN, 0.80)):
        day = now.replace(hour=0, minute=0)
        prices = [
            Price(
                day + timedelta(minutes=15 * q),
                base + q / 400,
                base,
                q / 400,
                "NOK",
                "EXPENSIVE" if q >= 48 else "CHEAP",
                "QUARTER_HOURLY",
            )
            for q in range(96)
        ]
        await store.upsert_prices(home.id, prices)
    live: list[LiveMeasurement] = []
    for i in range(150):  # 5 minutes at 2 s
        at = now - timedelta(seconds=300 - 2 * i)
        live.append(
            LiveMeasurement(HOME_OSLO.id, at, power=800 + (i % 30) * 40, accumulated_consumption=9.5 + i / 1000)
        )
        live.append(
            LiveMeasurement(
                HOME_CABIN.id,
                at,
                power=150 + (i % 10) * 10,
                power_production=1200 + (i % 40) * 25,
                accumulated_consumption=2.25 + i / 2000,
            )
        )
    await store.upsert_live(live)
    for home, loader, state, rows, error in (
        (HOME_OSLO, "live", "running", 150, None),
        (HOME_OSLO, "prices", "waiting", 96, None),
        (HOME_OSLO, "consumption", "backfilling", 4464, None),
        (HOME_CABIN, "production", "backing_off", 120, "HTTP 503 from the API, retrying"),
    ):
        await store.set_loader_status(
            home.id,
            loader,
            token_id=a.id,
            state=state,
            rows_written=rows,
            last_success=now - timedelta(minutes=2),
            next_run=now + timedelta(minutes=5),
            last_error=error,
            owner=None,
        )
    return {"a": a.id, "b": b.id, "c": c.id}


class IdleCollector:
    """A stand-in for the Manager when a test wants no collector at all (deterministic snapshots)."""

    def __init__(self, *_: object) -> None:
        self.instance_id = uuid.UUID(int=0)

    async def run(self) -> None:
        await asyncio.Event().wait()

    def collected_tokens(self) -> set[int]:
        return set()
