"""The homes pane: the homes of the selected token with live power, today's energy and the current price."""

from __future__ import annotations

from textual.widgets import DataTable

from tibber_tui.ui.widgets.table_sync import Cell


class HomesTable(DataTable[Cell]):
    """One row per home of the selected token, keyed by home id; the highlighted row selects the graph's home."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("Home", key="name", width=12)
        self.add_column("Address", key="address", width=20)
        self.add_column("Live", key="live", width=8)
        self.add_column("Today", key="today", width=9)
        self.add_column("Price", key="price", width=15)
        self.add_column("Prod", key="production", width=4)
