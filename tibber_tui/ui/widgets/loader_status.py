"""The loader pane: per home and loader its state, rows, last success, next run and last error.

Wide (120 columns): one row per (home, loader) with every column. Narrow (80 columns, where the right-hand columns
would need horizontal scrolling): one row per home with a compact cell per loader (state symbol and rows), and the
selected loader's state, error, last success and next run in the pane title. Enter (or a click) on a loader opens
a dialog with all of it, the whole error included, in either layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from textual import events, on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from tibber_tui.db.store import LoaderStatusRow
from tibber_tui.ui import loader_view, view
from tibber_tui.ui.screens.loader_detail import LoaderDetailScreen
from tibber_tui.ui.widgets.table_sync import Cell, selected_key, sync_rows

COMPACT_BELOW = 70
"""Widths under this get the compact layout: the wide table's columns up to "Next" need about 60."""

CELL_WIDTH = 6
"""A compact loader cell: symbol, space, up to four characters of rows (``4.5k``)."""


class LoaderStatusTable(DataTable[Cell]):
    """The loaders of the selected token's homes; switches between the wide and the compact layout by width."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "details", "Details")]

    class DetailChanged(Message):
        """What the pane title should say after "4 Loaders" changed (new data, another cell, another layout)."""

        def __init__(self, detail: str) -> None:
            super().__init__()
            self.detail = detail
            """Textual markup; empty for nothing to add."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.compact: bool | None = None
        """True for one row per home, False for the full table, None before the first layout."""
        self._home_width = 0
        self._loaders: dict[tuple[str, str], LoaderStatusRow] = {}
        self._names: dict[str, str] = {}
        self._now: datetime | None = None
        self._secrets: list[str] = []
        self._announced: str | None = None

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out(event.size.width)

    def show(
        self, loaders: Iterable[LoaderStatusRow], names: Mapping[str, str], now: datetime, secrets: Sequence[str]
    ) -> None:
        """Show ``loaders`` of the homes in ``names`` (home id -> name)."""
        self._loaders = {(r.home_id, r.loader): r for r in loaders if r.home_id in names}
        self._names, self._now, self._secrets = dict(names), now, list(secrets)
        self._fill()
        self._announce()

    def _announce(self) -> None:
        detail = self.title_detail()
        if detail != self._announced:  # redraws come every half second: only real changes go out
            self._announced = detail
            self.post_message(self.DetailChanged(detail))

    def title_detail(self) -> str:
        """Markup for the pane title after "4 Loaders": the selected loader (compact) or the newest error (wide)."""
        if self._now is None:
            return ""
        if self.compact:
            return self._selected_detail(self._now)
        failing = sorted((r for r in self._loaders.values() if r.last_error), key=lambda r: r.updated_at)
        if not failing:
            return ""
        last = failing[-1]
        error = view.redact_markup(f"{self._names[last.home_id]} {last.loader}: {last.last_error}", self._secrets)
        return f"[$error]{error}[/]"

    # layout ---------------------------------------------------------------------------------------------------
    def _lay_out(self, width: int) -> None:
        compact = width < COMPACT_BELOW
        # the home name gets what the loader cells leave (one column kept for a vertical scrollbar)
        home_width = max(6, min(20, width - 1 - len(loader_view.COMPACT_LOADERS) * (CELL_WIDTH + 2) - 2))
        if (compact, home_width if compact else 0) == (self.compact, self._home_width):
            return
        self.compact, self._home_width = compact, home_width if compact else 0
        self.clear(columns=True)
        if compact:
            self.cursor_type = "cell"
            self.add_column("Home", key="home", width=home_width)
            for loader, header in loader_view.COMPACT_LOADERS:
                self.add_column(header, key=loader, width=CELL_WIDTH)
        else:
            self.cursor_type = "row"
            self.add_column("Home", key="home", width=8)
            self.add_column("Loader", key="loader", width=11)
            self.add_column("State", key="state", width=11)
            self.add_column("Rows", key="rows", width=6)
            self.add_column("Ok", key="last_success", width=4)
            self.add_column("Next", key="next_run", width=6)
            self.add_column("Last error", key="last_error", width=40)
        self._fill()
        self._announce()

    def _fill(self) -> None:
        if self.compact is None or self._now is None:
            return  # not laid out yet: the first resize fills it
        loaders = self._loaders.values()
        if self.compact:
            sync_rows(self, loader_view.compact_rows(loaders, self._names))
        else:
            sync_rows(self, view.loader_rows(loaders, self._names, self._now, self._secrets))

    # the selected cell ----------------------------------------------------------------------------------------
    @on(DataTable.CellHighlighted)
    def _cell_highlighted(self) -> None:
        if self.compact:
            self._announce()

    @on(DataTable.CellSelected)
    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_details()  # a click on the highlighted cell or row

    def action_details(self) -> None:
        """Open the dialog about the loader under the cursor."""
        selected = self._selected_loader()
        if selected is not None and self._now is not None:
            home_id, loader, row = selected
            markup = loader_view.loader_detail_markup(row, self._names[home_id], loader, self._now, self._secrets)
            self.app.push_screen(LoaderDetailScreen(markup))

    def _selected_loader(self) -> tuple[str, str, LoaderStatusRow | None] | None:
        """(home id, loader, its row or None when the home has no such loader) under the cursor."""
        key = selected_key(self)
        if key is None:
            return None
        if not self.compact:
            home_id, _, loader = key.partition("/")
            return (home_id, loader, self._loaders.get((home_id, loader))) if home_id in self._names else None
        if key not in self._names:
            return None
        column = self.cursor_coordinate.column
        loaders = [loader for loader, _ in loader_view.COMPACT_LOADERS]
        if 1 <= column <= len(loaders):
            return key, loaders[column - 1], self._loaders.get((key, loaders[column - 1]))
        # on the home's name: its most troubled loader
        row = loader_view.worst_loader(r for (h, _), r in self._loaders.items() if h == key)
        return (key, row.loader, row) if row else None

    def _selected_detail(self, now: datetime) -> str:
        selected = self._selected_loader()
        if selected is None:
            return ""
        _, loader, row = selected
        return loader_view.loader_title_markup(row, loader, now, self._secrets)
