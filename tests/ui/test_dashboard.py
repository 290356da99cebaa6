"""Pilot tests of the dashboard against a real database (no collector: the panes read what is stored)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from textual.widgets import DataTable, Input

from tests.fixtures.tcp_proxy import TcpProxy as BlackholeProxy
from tests.fixtures.tcp_proxy import target_of
from tests.ui.helpers import TOKEN_A, TOKEN_B, TOKEN_C, screen_text, wait_for
from tests.ui.proxy import TcpProxy
from tibber_tui.db.store import Store
from tibber_tui.ui.app import TibberApp
from tibber_tui.ui.screens.add_token import AddTokenScreen
from tibber_tui.ui.screens.help import HelpScreen
from tibber_tui.ui.widgets.event_log import EventLog
from tibber_tui.ui.widgets.power_graph import PowerGraph

AppFactory = Callable[..., TibberApp]
NEW_TOKEN = "NEWTOKEN-9F8E7D6C5B4A39281706F5E4D3C2B1A0-Z9Y8"


async def _loaded(app: TibberApp, text: str = "Family") -> None:
    """Wait until the data, the database state and the footer are all drawn."""
    await wait_for(
        lambda: all(t in screen_text(app) for t in (text, "database ok", "Quit")), what=f"{text!r} on screen"
    )


async def test_panes_fill_from_the_database(observer_app: AppFactory, seeded: dict[str, int]) -> None:
    app = observer_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(app)
        await pilot.pause()
        text = screen_text(app)
        # tokens: label, masked token, active, state, homes
        assert "…A1B2" in text and "…C3D4" in text and "…E5F6" in text
        assert "failed: invalid token (4403)" in text and "idle" in text
        for token in (TOKEN_A, TOKEN_B, TOKEN_C):
            assert token not in text and token[:12] not in text
        # homes of the selected (first) token, with live power, today's energy, price and level
        assert "Homes of Family" in text
        assert "Storgata 1, Oslo" in text and "Fjellvegen 7, Geilo" in text
        assert "9.65 kWh" in text and "1.22 expensive" in text
        # graph of the first home, axes labelled; loaders; event log
        assert "Power of Cabin · 5 min" in text and "11:55:00" in text and "12:00:00" in text and "kW┤" in text
        assert "backing_off" in text and "Cabin production: HTTP 503 from the API, retrying" in text
        assert "database connected" in text
        assert "Bergen" not in text  # the other token's home is not listed


async def test_token_inserted_by_sql_appears(
    observer_app: AppFactory, seeded: dict[str, int], pool: asyncpg.Pool
) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)):
        await _loaded(app)
        await pool.execute("INSERT INTO tibber.tibber_tokens (token, label) VALUES ($1, 'From psql')", NEW_TOKEN)
        await wait_for(lambda: "From psql" in screen_text(app), what="the inserted token")
        assert "…Z9Y8" in screen_text(app)
        await pool.execute("UPDATE tibber.tibber_tokens SET label = 'Renamed' WHERE token = $1", NEW_TOKEN)
        await wait_for(lambda: "Renamed" in screen_text(app), what="the renamed token")


async def test_toggle_key_flips_active_in_the_database(
    observer_app: AppFactory, seeded: dict[str, int], store: Store
) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app)
        await pilot.press("t")

        async def inactive() -> bool:
            row = await store.get_token(seeded["a"])
            return row is not None and not row.active

        await wait_for(inactive, what="active = false")
        await wait_for(lambda: "Family deactivated" in screen_text(app))
        await pilot.press("space")

        async def active() -> bool:
            row = await store.get_token(seeded["a"])
            return row is not None and row.active

        await wait_for(active, what="active = true again")


async def test_add_token_dialog_validates_and_masks(
    observer_app: AppFactory, seeded: dict[str, int], store: Store
) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await _loaded(app)
        await pilot.press("a")
        await wait_for(lambda: isinstance(app.screen, AddTokenScreen))
        await pilot.press(*"short")
        await wait_for(lambda: "Too short for a Tibber token" in screen_text(app))
        await pilot.press("enter", "enter")  # submitting an invalid token keeps the dialog open
        assert isinstance(app.screen, AddTokenScreen)
        token_input = app.screen.query_one("#token", Input)
        token_input.value = "with-a-long-enough-prefix"
        token_input.cursor_position = len(token_input.value)
        await pilot.press("space", "x")  # typed: a space makes it invalid
        await wait_for(lambda: "no spaces" in screen_text(app))
        # most of the token is pasted, the rest typed: the field shows bullets only, never the token
        token_input.value = NEW_TOKEN[:-4]
        token_input.cursor_position = len(token_input.value)
        await pilot.press(*NEW_TOKEN[-4:])
        await pilot.pause()
        assert token_input.value == NEW_TOKEN
        text = screen_text(app)
        assert NEW_TOKEN[:10] not in text and "Z9Y8" not in text and "•" * 20 in text
        await pilot.press("enter", *"Summer", "enter")
        await wait_for(lambda: not isinstance(app.screen, AddTokenScreen))
        await wait_for(lambda: app.query_one("#tokens", DataTable).row_count == 4, what="the new token row")
        await wait_for(lambda: "…Z9Y8" in screen_text(app), what="the new token on screen")
        assert "…Z9Y8" in screen_text(app) and NEW_TOKEN not in screen_text(app)
        rows = [t for t in await store.list_tokens() if t.token == NEW_TOKEN]
        assert len(rows) == 1 and rows[0].label == "Summer" and rows[0].active

        # the same token again: refused with a message, nothing added
        await pilot.press("a")
        await wait_for(lambda: isinstance(app.screen, AddTokenScreen))
        app.screen.query_one("#token", Input).value = NEW_TOKEN
        await pilot.press("enter", "enter")
        await wait_for(lambda: "already present" in screen_text(app), what="the duplicate notice")
        assert len([t for t in await store.list_tokens() if t.token == NEW_TOKEN]) == 1


async def test_add_token_dialog_cancel_adds_nothing(
    observer_app: AppFactory, seeded: dict[str, int], store: Store
) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app)
        await pilot.press("a")
        await wait_for(lambda: isinstance(app.screen, AddTokenScreen))
        app.screen.query_one("#token", Input).value = NEW_TOKEN
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, AddTokenScreen))
        await pilot.pause(0.3)
        assert len(await store.list_tokens()) == 3


async def test_remove_token_asks_first(observer_app: AppFactory, seeded: dict[str, int], store: Store) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app)
        await pilot.press("down")  # the "Office" token
        await wait_for(lambda: "Homes of Office" in screen_text(app))
        await pilot.press("d")
        await wait_for(lambda: "Remove token Office (…C3D4)?" in screen_text(app))
        await pilot.press("n")
        await pilot.pause(0.3)
        assert await store.get_token(seeded["b"]) is not None
        await pilot.press("delete")
        await wait_for(lambda: "Remove token Office" in screen_text(app))
        await pilot.click("#yes")
        await wait_for(lambda: "…C3D4" not in screen_text(app), what="the row to go")
        assert await store.get_token(seeded["b"]) is None
        assert "removed token Office" in screen_text(app)


async def test_mouse_selects_a_token(observer_app: AppFactory, seeded: dict[str, int]) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app)
        tokens = app.query_one("#tokens", DataTable)
        await pilot.click(tokens, offset=(3, 2))  # header is row 0; "Office" is the second data row
        await wait_for(lambda: "Homes of Office" in screen_text(app), what="Office selected by the mouse")
        await wait_for(lambda: "Bryggen 3, Bergen" in screen_text(app))


async def test_keys_for_help_focus_and_graph_window(observer_app: AppFactory, seeded: dict[str, int]) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app)
        text = screen_text(app)
        for hint in ("Toggle", "Add", "Remove", "Window", "Help", "Quit"):
            assert hint in text  # the footer
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        assert "toggle the selected token active" in screen_text(app) and "collected by another" in screen_text(app)
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, HelpScreen))
        for key, pane in (("3", "graph"), ("4", "loaders"), ("5", "events"), ("2", "homes"), ("1", "tokens")):
            await pilot.press(key)
            assert app.focused is not None and app.focused.id == pane
        await pilot.press("w")
        await wait_for(lambda: "Power of Cabin · 1 h" in screen_text(app))
        assert app.query_one(PowerGraph).window.total_seconds() == 3600
        await pilot.press("w", "w")
        await wait_for(lambda: "Power of Cabin · 5 min" in screen_text(app))


async def test_quit_key_exits(observer_app: AppFactory, seeded: dict[str, int]) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app)
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, what="the app to exit")
    assert app.return_code == 0


def _via(proxy: TcpProxy, dsn: str) -> str:
    """The same database reached through the proxy (TCP on loopback, whatever the original transport)."""
    parts = urlsplit(dsn)
    user = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else "postgres"
    return urlunsplit((parts.scheme, f"{user}@127.0.0.1:{proxy.port}", parts.path, "", ""))


async def test_database_gone_shows_reconnecting_and_recovers(
    observer_app: AppFactory, seeded: dict[str, int], database_url: str
) -> None:
    proxy = TcpProxy.for_dsn(database_url)
    await proxy.start()
    app = observer_app(dsn=_via(proxy, database_url))
    async with app.run_test(size=(80, 24)):
        await _loaded(app)
        await proxy.cut()
        await wait_for(lambda: "reconnecting" in screen_text(app), what="the reconnecting state")
        assert "Family" in screen_text(app)  # the last known data stays on screen
        await proxy.start()
        await wait_for(lambda: "database ok" in screen_text(app), limit=20, what="recovery")
        assert app.is_running
    await proxy.cut()


async def test_command_palette_switches_the_graph_window(observer_app: AppFactory, seeded: dict[str, int]) -> None:
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(app)
        await pilot.press("ctrl+p")
        await wait_for(lambda: "Search for commands" in screen_text(app), what="the palette")
        await pilot.press(*"window 24")
        await wait_for(lambda: "Graph window 24 h" in screen_text(app), what="the command")
        await pilot.press("enter")
        await wait_for(lambda: "Power of Cabin · 24 h" in screen_text(app), what="the 24 h window")
        assert app.query_one(PowerGraph).window.total_seconds() == 86400


async def test_silent_network_loss_shows_reconnecting_and_recovers(
    observer_app: AppFactory, seeded: dict[str, int], database_url: str
) -> None:
    # No FIN, no RST: the sockets stay open and nothing comes back. Without deadlines the refresh hung forever
    # with "database ok" still on screen.
    proxy = BlackholeProxy(target_of(database_url))
    await proxy.start()
    try:
        app = observer_app(dsn=proxy.dsn_for(database_url), db_timeout=1.0)
        async with app.run_test(size=(80, 24)):
            await _loaded(app)
            proxy.mode = "blackhole"
            await wait_for(lambda: "reconnecting" in screen_text(app), limit=6, what="the reconnecting state")
            assert "database ok" not in screen_text(app) and "Family" in screen_text(app)
            assert any(
                "no answer from the database within 1s" in line for line in app.query_one(EventLog).lines_written
            )
            proxy.mode = "forward"
            await wait_for(lambda: "database ok" in screen_text(app), limit=20, what="recovery")
            assert app.is_running
    finally:
        await proxy.close()
