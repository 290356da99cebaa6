"""The Textual dashboard: hosts the collector in a worker and shows tokens, homes, live power, loaders, events.

The database is the source of truth: a worker re-reads it every ``refresh_interval`` (so changes made by other
instances, psql or the CLI appear without restart); core events from this instance's collector update the panes
in between. Redraws are throttled to one per ``redraw_interval`` however many events arrive; drawing the panes
from the app's state is ``DashboardPanes`` (``tibber_tui.ui.dashboard_panes``), the two workers are
``DashboardWorkers`` (``tibber_tui.ui.dashboard_workers``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker

from tibber_tui.collector import events as ev
from tibber_tui.config import Config
from tibber_tui.db.store import Store
from tibber_tui.secrets import redact
from tibber_tui.ui import view
from tibber_tui.ui.collector_host import CollectorHost, ManagerFactory, default_manager_factory
from tibber_tui.ui.dashboard_data import DashboardData
from tibber_tui.ui.dashboard_panes import DashboardPanes
from tibber_tui.ui.dashboard_workers import DashboardWorkers
from tibber_tui.ui.live_feed import LiveFeed
from tibber_tui.ui.messages import CollectorCrashed, CoreEvent, LiveSampleReceived, LogEvent, MessageSink, StatusEvent
from tibber_tui.ui.samples import PowerSample
from tibber_tui.ui.screens.help import HelpScreen
from tibber_tui.ui.terminal_watch import TerminalWatch
from tibber_tui.ui.token_actions import TokenActions
from tibber_tui.ui.widgets.event_log import EventLog
from tibber_tui.ui.widgets.homes_table import HomesTable
from tibber_tui.ui.widgets.loader_status import LoaderStatusTable
from tibber_tui.ui.widgets.power_graph import PowerGraph, window_label
from tibber_tui.ui.widgets.tokens_table import TokensTable

Clock = Callable[[], datetime]
PANES = ("tokens", "homes", "graph", "loaders", "events")
_DASHBOARD_ACTIONS = {"toggle_token", "add_token", "remove_token", "focus_pane", "cycle_window", "quit"}


def local_clock() -> datetime:
    """Now, in the terminal's time zone (axis and log times are shown in the clock's zone)."""
    return datetime.now().astimezone()


class TibberApp(DashboardWorkers, TokenActions, DashboardPanes, TerminalWatch):
    """The dashboard. Build it with ``make_app``: the CLI and the tests use the same factory."""

    # DashboardWorkers comes first: its request_refresh/stop_collector/close_database replace the stubs that
    # TokenActions and TerminalWatch declare for them.

    CSS_PATH = "app.tcss"
    TITLE = "tibber-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t,space", "toggle_token", "Toggle", tooltip="Activate or deactivate the selected token"),
        Binding("a", "add_token", "Add"),
        Binding("d,delete", "remove_token", "Remove"),
        Binding("w", "cycle_window", "Window"),
        *[Binding(str(i + 1), f"focus_pane('{p}')", p.title(), show=False) for i, p in enumerate(PANES)],
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        config: Config,
        dsn: str,
        *,
        observe: bool = False,
        clock: Clock | None = None,
        manager_factory: ManagerFactory | None = None,
        refresh_interval: float = 2.0,
        redraw_interval: float = 0.5,
        watch_terminal: bool = True,
        db_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.config = config
        self.dsn = dsn
        self.observe = observe
        self.clock: Clock = clock or local_clock
        self.manager_factory = manager_factory or default_manager_factory
        self.refresh_interval = refresh_interval
        self.db_timeout = db_timeout
        """Seconds a database read (connect included) may take before the dashboard shows it unreachable."""
        self.redraw_interval = redraw_interval
        self.watch_terminal = watch_terminal
        self.manager: CollectorHost | None = None
        self.store: Store | None = None
        self.data: DashboardData | None = None
        self.live = LiveFeed()
        self.db_connected: bool | None = None
        self.db_error = ""
        self.budget: ev.BudgetChanged | None = None
        self.stream_states: dict[int, str] = {}
        self.loader_events: dict[tuple[str, str], ev.LoaderStateChanged] = {}
        self.selected_token: int | None = None
        self.selected_home: str | None = None
        self._refresh_wanted = asyncio.Event()
        self._dirty = False
        self._collector_worker: Worker[None] | None = None
        self._hung_up = False
        self._toggle_lock = asyncio.Lock()

    # layout -------------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Vertical(id="tokens-pane", classes="pane"):
            yield TokensTable(id="tokens")
        with Vertical(id="homes-pane", classes="pane"):
            yield HomesTable(id="homes")
        with Vertical(id="graph-pane", classes="pane"):
            yield PowerGraph(self._graph_data, id="graph")
        with Horizontal(id="bottom"):
            with Vertical(id="loaders-pane", classes="pane"):
                yield LoaderStatusTable(id="loaders")
            with Vertical(id="events-pane", classes="pane"):
                yield EventLog(id="events")
        yield Footer()

    def on_mount(self) -> None:
        for number, pane in enumerate(PANES, start=1):
            self.query_one(f"#{pane}-pane").border_title = f"{number} {pane.title()}"
        self.sink = MessageSink(self)
        self.log_line("info", "dashboard started" + (" (observing, not collecting)" if self.observe else ""))
        self._update_status()
        self.query_one("#tokens", DataTable).focus()
        self.set_interval(self.redraw_interval, self._redraw_if_dirty)
        self.watch_database()
        self._collector_worker = self.run_collector()
        if self.watch_terminal and not self.is_headless:
            self._install_terminal_watchdog()

    # event handlers -----------------------------------------------------------------------------------------
    @on(LiveSampleReceived)
    def _live_sample(self, message: LiveSampleReceived) -> None:
        event = message.event
        assert isinstance(event, ev.LiveSample)
        self.live.samples.add(event.home_id, PowerSample(event.timestamp, event.power, event.power_production))
        self._dirty = True

    @on(StatusEvent)
    def _status_event(self, message: StatusEvent) -> None:
        event = message.event
        if isinstance(event, ev.LoaderStateChanged):
            self.loader_events[(event.home_id, event.loader)] = event
        elif isinstance(event, ev.StreamStateChanged):
            self.stream_states[event.token_id] = event.state
        elif isinstance(event, ev.BudgetChanged):
            self.budget = event
        self._log_event(message)
        self._dirty = True

    @on(LogEvent)
    def _log_event(self, message: CoreEvent) -> None:
        event = message.event
        line = view.event_line(event, self._labels(), self._secrets())
        if line is not None:
            self.log_line(line[0], line[1], event.at if hasattr(event, "at") else None)
        if isinstance(event, ev.CollectorStarted | ev.CollectorStopped | ev.TokenFailed):
            self.request_refresh()
        self._dirty = True

    @on(CollectorCrashed)
    def _collector_crashed(self, message: CollectorCrashed) -> None:
        error = redact(message.error, self._secrets())
        self.log_line("error", f"collector failed: {error}; restarting in {message.retry_in:.0f}s")

    @on(DataTable.RowHighlighted, "#tokens")
    def _token_highlighted(self, message: DataTable.RowHighlighted) -> None:
        token_id = int(message.row_key.value) if message.row_key.value else None
        if token_id != self.selected_token:
            self.selected_token = token_id
            self.selected_home = None
            self.request_refresh()

    @on(DataTable.RowHighlighted, "#homes")
    def _home_highlighted(self, message: DataTable.RowHighlighted) -> None:
        if message.row_key.value != self.selected_home:
            self.selected_home = message.row_key.value
            self._dirty = True
            self.query_one(PowerGraph).refresh()

    @on(LoaderStatusTable.DetailChanged)
    def _loader_detail_changed(self, message: LoaderStatusTable.DetailChanged) -> None:
        # The title carries what the narrow layout has no columns for (and the newest error in the wide one).
        detail = message.detail
        self.query_one("#loaders-pane").border_title = "4 Loaders" + (f" · {detail}" if detail else "")

    @on(PowerGraph.WindowChanged)
    def _window_changed(self) -> None:
        self.request_refresh()
        self._dirty = True

    # actions ------------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Dashboard keys must not fire underneath a dialog (e.g. "q" while the add-token form is open).
        return not (action in _DASHBOARD_ACTIONS and isinstance(self.screen, ModalScreen))

    def action_focus_pane(self, pane: str) -> None:
        self.query_one(f"#{pane}").focus()

    def action_cycle_window(self) -> None:
        self.query_one(PowerGraph).action_cycle_window()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Toggle token", "Activate or deactivate the selected token", self.action_toggle_token)
        yield SystemCommand("Add token", "Add a Tibber API token", self.action_add_token)
        yield SystemCommand("Remove token", "Remove the selected token (asks first)", self.action_remove_token)
        for window in (timedelta(minutes=5), timedelta(hours=1), timedelta(hours=24)):
            yield SystemCommand(
                f"Graph window {window_label(window)}",
                "Show this much of the live power graph",
                lambda w=window: self.query_one(PowerGraph).set_window(w),
            )

    # helpers ------------------------------------------------------------------------------------------------
    def log_line(self, level: str, message: str, at: datetime | None = None) -> None:
        when = (at or self.clock()).astimezone(self.clock().tzinfo)
        # Events of the collector's own shutdown can arrive after quit removed the widgets: drop them then.
        with contextlib.suppress(NoMatches):
            self.query_one(EventLog).add(when, message, level)

    def _set_db_state(self, connected: bool, error: str) -> None:
        if (connected, error) != (self.db_connected, self.db_error):
            self.db_connected, self.db_error = connected, error
            with contextlib.suppress(NoMatches):
                self._update_status()

    # lifecycle ----------------------------------------------------------------------------------------------
    async def on_unmount(self) -> None:
        await self.stop_collector()
        await self.close_database()


def make_app(
    config: Config,
    dsn: str,
    *,
    observe: bool = False,
    clock: Clock | None = None,
    manager_factory: ManagerFactory | None = None,
    **options: Any,
) -> TibberApp:
    """The one factory for the dashboard, used by ``tibber-tui``, ``tibber-tui demo`` and the tests."""
    return TibberApp(config, dsn, observe=observe, clock=clock, manager_factory=manager_factory, **options)
