"""Drawing the dashboard: the status line and the panes, from the state the app keeps.

Nothing here reads the database or handles a key: the app's workers and event handlers change the state and
mark it dirty, and ``_redraw_if_dirty`` (on a timer) turns it into table rows, pane titles and the graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import App
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static

from tibber_tui.collector import events as ev
from tibber_tui.secrets import redact
from tibber_tui.ui import view
from tibber_tui.ui.collector_host import CollectorHost
from tibber_tui.ui.dashboard_data import DashboardData
from tibber_tui.ui.live_feed import LiveFeed
from tibber_tui.ui.widgets.loader_status import LoaderStatusTable
from tibber_tui.ui.widgets.power_graph import GraphData, PowerGraph, window_label
from tibber_tui.ui.widgets.table_sync import selected_key, sync_rows

if TYPE_CHECKING:
    from tibber_tui.db.store import TokenRow


class DashboardPanes(App[int]):
    """Mixin of the dashboard app: draws the status line and the panes; the app provides the state."""

    clock: Callable[[], datetime]
    observe: bool
    manager: CollectorHost | None
    data: DashboardData | None
    live: LiveFeed
    db_connected: bool | None
    db_error: str
    budget: ev.BudgetChanged | None
    stream_states: dict[int, str]
    loader_events: dict[tuple[str, str], ev.LoaderStateChanged]
    selected_token: int | None
    selected_home: str | None
    _dirty: bool

    if TYPE_CHECKING:  # provided by TokenActions; no stub at run time, so the order of the app's bases is free

        def _selected_token_row(self) -> TokenRow | None: ...

    # what the panes need to know ----------------------------------------------------------------------------
    def _collected_here(self) -> set[int]:
        return self.manager.collected_tokens() if self.manager is not None else set()

    def _labels(self) -> dict[int, str]:
        return {t.id: t.label or f"token #{t.id}" for t in self.data.tokens} if self.data else {}

    def _secrets(self) -> list[str]:
        return [t.token for t in self.data.tokens] if self.data else []

    # drawing ------------------------------------------------------------------------------------------------
    def _update_status(self) -> None:
        if self.db_connected is None:
            db = "[yellow]database: connecting…[/]"
        elif self.db_connected:
            db = "[green]database ok[/]"
        else:
            db = "[bold red]database unreachable — reconnecting…[/] [dim]$db_error[/]"
        mode = "observing" if self.observe else f"collecting {len(self._collected_here())} token(s)"
        # Error and budget texts go in as template variables: Textual shows them literally, brackets and all.
        status = Content.from_markup(
            f"[b]tibber-tui[/] {mode} │ {db} │ $budget",
            db_error=redact(self.db_error, self._secrets()),
            budget=view.budget_text(self.budget, self.observe),
        )
        self.query_one("#status", Static).update(status)

    def _redraw_if_dirty(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        with contextlib.suppress(NoMatches):  # the widgets are already gone while quitting
            self._redraw()

    def _redraw(self) -> None:
        data = self.data
        self._update_status()
        if data is None:
            return
        now = self.clock()
        here = self._collected_here()
        instance_id = getattr(self.manager, "instance_id", None)
        states = {
            t.id: view.token_state(
                t, data.statuses.get(t.id), data.owners.get(t.id), here, instance_id, self.stream_states.get(t.id)
            )
            for t in data.tokens
        }
        tokens = self.query_one("#tokens", DataTable)
        sync_rows(tokens, view.token_rows(data.tokens, states, data.home_counts))
        if self.selected_token is not None and selected_key(tokens) != str(self.selected_token):
            keys = [str(t.id) for t in data.tokens]
            if str(self.selected_token) in keys:
                tokens.move_cursor(row=keys.index(str(self.selected_token)), animate=False)
        live = {
            h.id: s.consumption
            for h in data.homes
            if (s := self.live.samples.latest(h.id)) and s.consumption is not None
        }
        homes = self.query_one("#homes", DataTable)
        sync_rows(homes, view.home_rows(data.homes, data.figures, live))
        if self.selected_home not in {h.id for h in data.homes}:
            self.selected_home = selected_key(homes)
        names = {h.id: view.home_name(h) for h in data.homes}
        loader_rows = {(r.home_id, r.loader): r for r in data.loaders}
        for key, event in self.loader_events.items():
            loader_rows[key] = view.merge_loader_event(loader_rows.get(key), event)
        self.query_one(LoaderStatusTable).show(loader_rows.values(), names, now, self._secrets())
        token = self._selected_token_row()
        # A failure reason is longer than the state column: the selected token's full reason goes in the title.
        state = states.get(token.id, "") if token else ""
        # Labels, home names and reasons are user or API text: template variables, never parsed as markup.
        self.query_one("#tokens-pane").border_title = (
            Content.from_markup("1 Tokens · [$error]$reason[/]", reason=redact(state, self._secrets()))
            if state.startswith("failed")
            else "1 Tokens"
        )
        self.query_one("#homes-pane").border_title = (
            Content.from_markup("2 Homes of $label", label=token.label or f"#{token.id}") if token else "2 Homes"
        )
        self.query_one(PowerGraph).refresh()

    def _graph_data(self, columns: int) -> GraphData | None:
        """The selected home's samples downsampled to the graph's columns (the widget never sees raw samples)."""
        home = next((h for h in self.data.homes if h.id == self.selected_home), None) if self.data else None
        if home is None:
            return None
        graph = self.query_one(PowerGraph)
        legend = "[$accent]█[/] consumption" + (" [$success]█[/] production" if home.has_production else "")
        title = Content.from_markup(
            f"3 Power of $name · {window_label(graph.window)} · {legend}", name=view.home_name(home)
        )
        self.query_one("#graph-pane").border_title = title
        return self.live.graph_data(home.id, graph.window, self.clock(), columns)
