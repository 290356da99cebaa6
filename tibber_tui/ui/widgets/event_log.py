"""The event log: collector starts and stops, reconnects and errors, each with its time."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import RichLog

LEVEL_STYLES = {"info": "", "warning": "yellow", "error": "bold red"}


class EventLog(RichLog):
    """A bounded, append-only list of timestamped lines (oldest dropped after ``max_lines``)."""

    DEFAULT_CSS = """
    EventLog { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, max_lines: int = 500, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, wrap=False, markup=False, highlight=False, auto_scroll=True, id=id)
        self.lines_written: list[str] = []
        """The plain text of every line (bounded like the widget), for tests and copy-paste."""
        self._max = max_lines

    def add(self, at: datetime, message: str, level: str = "info") -> None:
        """Append ``HH:MM:SS message`` in the colour of its level."""
        line = f"{at:%H:%M:%S} {message}"
        self.lines_written.append(line)
        if len(self.lines_written) > self._max:
            del self.lines_written[0]
        self.write(Text(line, style=LEVEL_STYLES.get(level, "")))
