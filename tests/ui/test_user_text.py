"""User and API text with square brackets is shown as it is: never parsed as Textual markup.

A token label, a home's nickname or address, a failure reason or a database error may contain ``[/]`` or
``[b]``: put into a plain ``str`` table cell, a title or the status line, Textual would parse it as markup and
either garble it or stop the app with a MarkupError.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from textual.widgets import DataTable

from tests.ui.helpers import FIXED_NOW, screen_text, wait_for
from tibber_tui.db.store import Store
from tibber_tui.tibber.models import Address, Home
from tibber_tui.ui.app import TibberApp
from tibber_tui.ui.screens.confirm import ConfirmScreen

AppFactory = Callable[..., TibberApp]
TOKEN_1 = "BRACKETTOKEN-0000000000000000000000000000000000Q1W2"
TOKEN_2 = "BRACKETTOKEN-0000000000000000000000000000000000E3R4"
TOKEN_3 = "BRACKETTOKEN-0000000000000000000000000000000000T5Y6"
LABEL = "my [/] token"
BOLD_LABEL = "[b]x"
NICKNAME = "Hytta [b]"
ADDRESS = "Gate [/] 3"
REASON = "rejected [/] [red]x"

HOME = Home(
    id="33333333-cccc-4000-8000-000000000001",
    nickname=NICKNAME,
    time_zone="Europe/Oslo",
    address=Address(address1=ADDRESS, postal_code="0150", city="Oslo", country="NO"),
    realtime_enabled=True,
    has_production=False,
    subscription_status="running",
    currency="NOK",
)


def _cell(app: TibberApp, table: str, row: str, column: str) -> str:
    return str(app.query_one(table, DataTable).get_cell(row, column))


async def test_brackets_in_labels_names_and_errors_are_shown_literally(observer_app: AppFactory, store: Store) -> None:
    first = await store.add_token(TOKEN_1, LABEL)
    second = await store.add_token(TOKEN_2, BOLD_LABEL)
    third = await store.add_token(TOKEN_3, "reasoned")
    await store.upsert_homes(first.id, [HOME])
    await store.set_token_status(third.id, "failed", REASON)
    await store.set_loader_status(
        HOME.id,
        "prices",
        token_id=first.id,
        state="backing_off",
        rows_written=3,
        last_success=FIXED_NOW - timedelta(minutes=1),
        next_run=FIXED_NOW + timedelta(minutes=1),
        last_error="HTTP 500 [/] oops",
        owner=None,
    )
    app = observer_app(refresh_interval=60)  # only key presses re-read: the error set below stays on screen
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: "database ok" in screen_text(app) and "Quit" in screen_text(app), what="the data")
        await wait_for(lambda: f"Homes of {LABEL}" in screen_text(app), what="the label in the homes title")
        shown = (
            LABEL,  # the tokens pane
            BOLD_LABEL,
            NICKNAME,  # the homes pane
            f"{ADDRESS}, Oslo",
            f"Power of {NICKNAME}",  # the graph's title
            "HTTP 500 [/] oops",  # the loader pane (laid out once it knows its width)
        )
        await wait_for(lambda: all(t in screen_text(app) for t in shown), what="every text as it is")
        assert _cell(app, "#tokens", str(first.id), "label") == LABEL
        assert _cell(app, "#tokens", str(second.id), "label") == BOLD_LABEL
        assert _cell(app, "#homes", HOME.id, "name") == NICKNAME

        # the failure reason of the selected token goes into the tokens pane's title
        await pilot.press("down", "down")
        await wait_for(lambda: f"failed: {REASON}" in screen_text(app), what="the reason in the title")

        # the removal question names the label
        await pilot.press("up", "up")
        await wait_for(lambda: f"Homes of {LABEL}" in screen_text(app))
        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await wait_for(lambda: f"Remove token {LABEL} (…Q1W2)?" in screen_text(app), what="the label in the question")
        await pilot.press("n")
        await wait_for(lambda: not isinstance(app.screen, ConfirmScreen))

        # a database error text in the status line (what the database worker sets when a read fails)
        app._set_db_state(False, "refused [/] by [b]server")
        await wait_for(lambda: "refused [/] by [b]server" in screen_text(app), what="the error in the status")
        assert app.is_running
        assert await store.get_token(first.id) is not None
