"""Bring a DataTable to a wanted list of rows without losing the cursor or flickering."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

Cell = str | Text
Row = tuple[str, tuple[Cell, ...]]
"""(row key, cells)"""


def sync_rows(table: DataTable[Cell], rows: Sequence[Row]) -> bool:
    """Update ``table`` to show ``rows``; returns True when the set or order of keys changed.

    Same keys in the same order: only changed cells are updated (cheap, no scroll jump). Otherwise the table is
    rebuilt and the cursor put back on the row with the same key, if it still exists.
    """
    wanted = [key for key, _ in rows]
    current = [str(key.value) for key in table.rows]
    if wanted == current:
        columns = list(table.columns)
        for key, cells in rows:
            for column, value in zip(columns, cells, strict=False):
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value)
        return False
    selected = selected_key(table)
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if selected in wanted:
        table.move_cursor(row=wanted.index(selected), animate=False)
    return True


def selected_key(table: DataTable[Cell]) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    try:
        key: RowKey = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except Exception:  # cursor outside the rows while the table is being rebuilt
        return None
    return None if key.value is None else str(key.value)
