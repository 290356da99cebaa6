"""The help screen: every key of the dashboard and what the token states mean (fits 80x24)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tibber_tui.ui.loader_view import STATE_LEGEND

KEYS: tuple[tuple[str, str], ...] = (
    ("t  space", "toggle the selected token active (all instances follow)"),
    ("a", "add a token (the field is hidden)"),
    ("d  delete", "remove the selected token (asks first)"),
    ("w", "graph window: 5 min → 1 h → 24 h"),
    ("1 … 5  tab", "focus tokens, homes, graph, loaders, events"),
    ("↑ ↓  mouse", "select a token or home; scroll a pane"),
    ("ctrl+p", "command palette"),
    ("?  f1", "this help (escape closes it)"),
    ("q", "quit (collectors stop cleanly)"),
)

STATES = (
    "Token states: collecting (here) · collected by another instance: host · waiting (active, no "
    "collector yet) · idle (inactive) · failed: reason (fix the token, then toggle it to retry).\n"
    f"Loaders: {STATE_LEGEND}; enter: details."
)


def help_markup() -> str:
    """The key list as Textual markup: keys in the accent colour, aligned in a column."""
    width = max(len(keys) for keys, _ in KEYS) + 2
    return "\n".join(f"[b $accent]{keys.ljust(width)}[/]{action}" for keys, action in KEYS)


class HelpScreen(ModalScreen[None]):
    """Shows the keys; escape, q, ? or f1 close it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog help"):
            yield Static("tibber-tui dashboard — keys", classes="dialog-title")
            yield Static(help_markup())
            yield Static(Text(STATES, style="dim"), classes="help-states")

    def action_close(self) -> None:
        self.dismiss(None)
