"""Everything about one loader (state, rows, times, the whole error) in a dialog: what a narrow pane cannot show."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class LoaderDetailScreen(ModalScreen[None]):
    """Opened with enter (or a click) on a loader; escape, enter or q close it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog"):
            yield Static(self.markup, id="loader-detail")

    def action_close(self) -> None:
        self.dismiss(None)
