"""The loader pane: per home and loader its state, rows, last success, next run and last error."""

from __future__ import annotations

from textual.widgets import DataTable

from tibber_tui.ui.widgets.table_sync import Cell


class LoaderStatusTable(DataTable[Cell]):
    """One row per (home, loader) of the selected token's homes; the API budget is in the status line."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("Home", key="home", width=8)
        self.add_column("Loader", key="loader", width=11)
        self.add_column("State", key="state", width=11)
        self.add_column("Rows", key="rows", width=6)
        self.add_column("Ok", key="last_success", width=4)
        self.add_column("Next", key="next_run", width=6)
        self.add_column("Last error", key="last_error", width=40)
