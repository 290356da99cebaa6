"""The loader pane: one compact row per home at 80 columns, the full table at 120, details on enter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.ui.helpers import FIXED_NOW, HOME_CABIN, TOKEN_A, screen_text, wait_for
from tibber_tui.db.store import LoaderStatusRow, Store
from tibber_tui.ui import loader_view
from tibber_tui.ui.app import TibberApp
from tibber_tui.ui.screens.loader_detail import LoaderDetailScreen
from tibber_tui.ui.widgets.loader_status import LoaderStatusTable

AppFactory = Callable[..., TibberApp]
NOW = FIXED_NOW


def _row(home: str, loader: str, state: str = "running", rows: int = 10, error: str | None = None) -> LoaderStatusRow:
    return LoaderStatusRow(
        home, loader, 1, state, rows, NOW - timedelta(minutes=3), NOW + timedelta(seconds=30), error, None, NOW
    )


def test_compact_counts_fit_four_characters() -> None:
    assert [loader_view.compact_count(n) for n in (0, 999, 1000, 4464, 9960, 45_000, 999_499, 1_200_000)] == [
        "0", "999", "1.0k", "4.5k", "10k", "45k", "999k", "1.2M",
    ]  # fmt: skip


def test_compact_rows_one_per_home_with_a_cell_per_loader() -> None:
    rows = loader_view.compact_rows(
        [_row("h2", "prices", "waiting", 96), _row("h1", "live", rows=4464), _row("h1", "production", "failed", 3)],
        {"h1": "Alpha", "h2": "Beta"},
    )
    assert [key for key, _ in rows] == ["h1", "h2"]
    assert [str(c) for c in rows[0][1]] == ["Alpha", "● 4.5k", "—", "✗ 3", "—"]
    assert [str(c) for c in rows[1][1]] == ["Beta", "—", "—", "—", "✓ 96"]


def test_worst_loader_and_title_text() -> None:
    secret = "SECRETTOKEN-0000000000000000000000000000000000QQ99"
    bad = _row("h", "production", "backing_off", error=f"HTTP 503 for {secret}")
    good = [_row("h", "live"), _row("h", "prices", "waiting")]
    assert loader_view.worst_loader([*good, bad]) is bad
    assert loader_view.worst_loader(good) == good[0]
    assert loader_view.worst_loader([]) is None
    title = loader_view.loader_title_markup(bad, "production", NOW, [secret])
    assert title.startswith("production: [$error]HTTP 503 for …QQ99") and secret not in title
    assert loader_view.loader_title_markup(good[1], "prices", NOW) == "prices waiting · ok 3m ago · next 30s"
    assert loader_view.loader_title_markup(None, "production", NOW) == "no production loader"
    detail = loader_view.loader_detail_markup(bad, "Home [1]", "production", NOW, [secret])
    assert "Home \\[1]" in detail and "backing off" in detail and secret not in detail
    assert "2026-01-15 11:57:00 (3m ago)" in detail and "2026-01-15 12:00:30 (in 30s)" in detail


async def test_narrow_pane_shows_every_home_and_details_on_enter(
    observer_app: AppFactory, seeded: dict[str, int], store: Store
) -> None:
    long_error = "HTTP 503 from the API, retrying with a long explanation that no pane title can hold " + TOKEN_A
    await store.set_loader_status(
        HOME_CABIN.id,
        "production",
        token_id=seeded["a"],
        state="backing_off",
        rows_written=120,
        last_success=NOW - timedelta(minutes=2),
        next_run=NOW + timedelta(minutes=5),
        last_error=long_error,
        owner=None,
    )
    app = observer_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "↓ 4.5k" in screen_text(app), what="the compact loader cells")
        table = app.query_one(LoaderStatusTable)
        assert table.compact and table.row_count == 2  # one row per home, no horizontal scrolling needed
        assert table.virtual_size.width <= table.size.width
        text = screen_text(app)
        for cell in ("Cons.", "Prod.", "Prices", "● 150", "✓ 96", "↻ 120"):
            assert cell in text
        await pilot.press("4")  # the cursor starts on Cabin's name: its troubled loader goes in the title
        await wait_for(lambda: "4 Loaders · production: HTTP 503" in screen_text(app))
        await pilot.press("down", "right")  # Flat, live
        await wait_for(lambda: "4 Loaders · live running · ok 2m ago" in screen_text(app))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, LoaderDetailScreen))
        await wait_for(lambda: "Flat · live" in screen_text(app))
        assert "2026-01-15 11:58:00 (2m ago)" in screen_text(app) and "(in 5m)" in screen_text(app)
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, LoaderDetailScreen))
        assert len(app.screen_stack) == 1  # enter opened exactly one dialog
        await pilot.press("up", "right", "right")  # Cabin, production: the whole error, token masked
        await pilot.press("enter")
        await wait_for(lambda: "no pane title can hold" in screen_text(app), what="the whole error in the dialog")
        assert TOKEN_A not in screen_text(app) and "…A1B2" in screen_text(app)
        await pilot.press("escape")
        await pilot.resize_terminal(120, 40)  # wide: the full table, one row per loader
        await wait_for(lambda: not table.compact and table.row_count == 4, what="the wide table")
        await wait_for(lambda: "backfilling" in screen_text(app) and "Last error" in screen_text(app))
        await pilot.resize_terminal(80, 24)
        await wait_for(lambda: table.compact is True and table.row_count == 2, what="the compact layout again")
