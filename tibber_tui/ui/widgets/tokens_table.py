"""The tokens pane: label, masked token, active, collector state, number of homes."""

from __future__ import annotations

from textual.widgets import DataTable

from tibber_tui.ui.widgets.table_sync import Cell


class TokensTable(DataTable[Cell]):
    """One row per API token, keyed by the token id; the highlighted row selects the token."""

    DEFAULT_CSS = """
    TokensTable { height: auto; max-height: 100%; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("Label", key="label", width=14)
        self.add_column("Token", key="token", width=6)
        self.add_column("On", key="active", width=3)
        self.add_column("State", key="state", width=34)
        self.add_column("Homes", key="homes", width=5)
