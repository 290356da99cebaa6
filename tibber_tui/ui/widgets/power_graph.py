"""The live power graph: consumption and production in W against time, axes labelled.

The widget never holds raw samples. It asks a ``GraphSource`` for at most one (min, max) pair per plot column
(see ``tibber_tui.ui.samples.downsample``) each time it renders, so a 24 h window costs as much as 5 minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tibber_tui.ui.samples import ColumnRange, value_bounds

WINDOWS: tuple[timedelta, ...] = (timedelta(minutes=5), timedelta(hours=1), timedelta(hours=24))
"""The selectable graph windows, in the order ``w`` cycles through them."""

Y_LABEL_WIDTH = 8


def window_label(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min"


def format_watts(value: float) -> str:
    """``950 W``, ``3.2 kW``: short enough for an axis label."""
    if abs(value) >= 1000:
        return f"{value / 1000:.1f} kW"
    return f"{value:.0f} W"


@dataclass(frozen=True, slots=True)
class GraphData:
    """What one render needs: per-column ranges of both series and the time span they cover."""

    start: datetime
    end: datetime
    consumption: Sequence[ColumnRange | None]
    production: Sequence[ColumnRange | None]
    caption: str = ""


GraphSource = Callable[[int], GraphData | None]
"""Called with the number of plot columns; returns downsampled data, or None when nothing is selected."""


class PowerGraph(Widget, can_focus=True):
    """Live power of the selected home; ``w`` switches the window (5 min / 1 h / 24 h)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "cycle_window", "Window", tooltip="Switch the graph window: 5 min, 1 h, 24 h"),
    ]

    DEFAULT_CSS = """
    PowerGraph {
        height: 1fr;
        min-height: 5;
        padding: 0 1 0 0;
    }
    PowerGraph .power-graph--consumption { color: $accent; }
    PowerGraph .power-graph--production { color: $success; }
    PowerGraph .power-graph--axis { color: $text-muted; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"power-graph--consumption", "power-graph--production", "power-graph--axis"}

    window_index: reactive[int] = reactive(0)
    """Index into ``WINDOWS`` of the shown time window."""

    class WindowChanged(Message):
        """The user picked another time window."""

        def __init__(self, graph: PowerGraph, window: timedelta) -> None:
            super().__init__()
            self.graph = graph
            self.window = window

        @property
        def control(self) -> PowerGraph:
            return self.graph

    def __init__(self, source: GraphSource | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source

    @property
    def window(self) -> timedelta:
        return WINDOWS[self.window_index]

    def action_cycle_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)

    def set_window(self, window: timedelta) -> None:
        self.window_index = WINDOWS.index(window)

    def watch_window_index(self, index: int) -> None:
        self.post_message(self.WindowChanged(self, WINDOWS[index]))
        self.refresh()

    def plot_columns(self) -> int:
        return max(1, self.content_size.width - Y_LABEL_WIDTH)

    def render(self) -> Text:
        width = self.content_size.width
        height = self.content_size.height
        data = self.source(self.plot_columns()) if self.source else None
        if data is None:
            return Text("Select a home with live data to see its power.", style="italic")
        if not any(data.consumption) and not any(data.production):
            return Text(f"No live data in the last {window_label(self.window)} (yet).", style="italic")
        if height < 3 or width <= Y_LABEL_WIDTH + 2:
            return Text(data.caption)
        return self._draw(data, width, height)

    def _draw(self, data: GraphData, width: int, height: int) -> Text:
        axis_style = self.get_component_rich_style("power-graph--axis", partial=True)
        cons_style = self.get_component_rich_style("power-graph--consumption", partial=True)
        prod_style = self.get_component_rich_style("power-graph--production", partial=True)
        plot_rows = height - 1
        columns = width - Y_LABEL_WIDTH
        bottom, top = value_bounds(data.consumption, data.production)
        halves = plot_rows * 2  # two vertical steps per cell: '▀' and '▄'

        def half_index(value: float) -> int:
            return min(halves - 1, max(0, int((value - bottom) / (top - bottom) * (halves - 1) + 0.5)))

        # grid[row][col] = (upper half owner, lower half owner); 0 none, 1 consumption, 2 production
        grid = [[[0, 0] for _ in range(columns)] for _ in range(plot_rows)]
        for owner, series in ((1, data.consumption), (2, data.production)):
            for col, rng in enumerate(series[:columns]):
                if rng is None:
                    continue
                for half in range(half_index(rng.low), half_index(rng.high) + 1):
                    row = plot_rows - 1 - half // 2
                    grid[row][col][0 if half % 2 else 1] = owner

        labels = {0: format_watts(top), plot_rows - 1: format_watts(bottom)}
        if plot_rows >= 5:
            labels[(plot_rows - 1) // 2] = format_watts((top + bottom) / 2)
        text = Text(no_wrap=True, overflow="crop")
        styles = {1: cons_style, 2: prod_style}
        for row in range(plot_rows):
            text.append(labels.get(row, "").rjust(Y_LABEL_WIDTH - 1) + "┤", axis_style)
            for upper, lower in grid[row]:
                if upper == lower == 0:
                    text.append(" ")
                elif upper == lower:
                    text.append("█", styles[upper])
                elif lower == 0:
                    text.append("▀", styles[upper])
                elif upper == 0:
                    text.append("▄", styles[lower])
                else:  # both series share the cell: upper half one colour, lower the other
                    text.append("▀", Style(color=styles[upper].color, bgcolor=styles[lower].color))
            text.append("\n")
        text.append(self._time_axis(data, columns), axis_style)
        return text

    @staticmethod
    def _time_axis(data: GraphData, columns: int) -> str:
        """Start, middle and end times under the plot, e.g. ``14:00 … 14:30 … 15:00``."""
        span = data.end - data.start
        fmt = "%H:%M" if span >= timedelta(hours=1) else "%H:%M:%S"
        left = data.start.strftime(fmt)
        mid = (data.start + span / 2).strftime(fmt)
        right = data.end.strftime(fmt)
        line = [" "] * columns
        for pos, label in ((0, left), ((columns - len(mid)) // 2, mid), (columns - len(right), right)):
            if pos >= 0:
                line[pos : pos + len(label)] = list(label)
        return " " * Y_LABEL_WIDTH + "".join(line[:columns])
