"""The Textual dashboard: hosts the collector in a worker and shows tokens, homes, live power, loaders, events.

The database is the source of truth: a worker re-reads it every ``refresh_interval`` (so changes made by other
instances, psql or the CLI appear without restart); core events from this instance's collector update the panes
in between. Redraws are throttled to one per ``redraw_interval`` however many events arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from textual import on, work
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
from tibber_tui.errors import describe
from tibber_tui.ui import view
from tibber_tui.ui.collector_host import CollectorHost, ManagerFactory, default_manager_factory, restart_delay
from tibber_tui.ui.dashboard_data import DashboardData, load_dashboard
from tibber_tui.ui.live_feed import LiveFeed
from tibber_tui.ui.messages import CollectorCrashed, CoreEvent, LiveSampleReceived, LogEvent, MessageSink, StatusEvent
from tibber_tui.ui.samples import PowerSample
from tibber_tui.ui.screens.help import HelpScreen
from tibber_tui.ui.terminal_watch import TerminalWatch
from tibber_tui.ui.token_actions import TokenActions
from tibber_tui.ui.widgets.event_log import EventLog
from tibber_tui.ui.widgets.homes_table import HomesTable
from tibber_tui.ui.widgets.loader_status import LoaderStatusTable
from tibber_tui.ui.widgets.power_graph import GraphData, PowerGraph, window_label
from tibber_tui.ui.widgets.table_sync import selected_key, sync_rows
from tibber_tui.ui.widgets.tokens_table import TokensTable

Clock = Callable[[], datetime]
PANES = ("tokens", "homes", "graph", "loaders", "events")
_DASHBOARD_ACTIONS = {"toggle_token", "add_token", "remove_token", "focus_pane", "cycle_window", "quit"}


def local_clock() -> datetime:
    """Now, in the terminal's time zone (axis and log times are shown in the clock's zone)."""
    return datetime.now().astimezone()


class TibberApp(TokenActions, TerminalWatch):
    """The dashboard. Build it with ``make_app``: the CLI and the tests use the same factory."""

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
    ) -> None:
        super().__init__()
        self.config = config
        self.dsn = dsn
        self.observe = observe
        self.clock: Clock = clock or local_clock
        self.manager_factory = manager_factory or default_manager_factory
        self.refresh_interval = refresh_interval
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

    # workers ------------------------------------------------------------------------------------------------
    @work(exclusive=True, group="collector")
    async def run_collector(self) -> None:
        """Run the Manager until the app exits; a crash is logged and the Manager restarted with backoff."""
        failures = 0
        while True:
            manager = self.manager_factory(self.config, self.dsn, self.sink, self.observe)
            self.manager = manager
            started = asyncio.get_running_loop().time()
            try:
                await manager.run()
                error = "collector stopped unexpectedly"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = describe(exc)
            finally:
                self.manager = None
            # a collector that ran for a while starts the backoff afresh
            failures = 1 if asyncio.get_running_loop().time() - started > 60 else failures + 1
            delay = restart_delay(failures)
            self.post_message(CollectorCrashed(error, delay))
            await asyncio.sleep(delay)

    @work(exclusive=True, group="database")
    async def watch_database(self) -> None:
        """Keep a pool, re-read the database periodically; show "reconnecting" while it is gone."""
        from tibber_tui.db.connection import create_pool

        failures = 0
        while True:
            try:
                if self.store is None:
                    pool = await create_pool(self.dsn, min_size=1, max_size=3)
                    self.store = Store(pool)
                await self.refresh_now()
                if self.db_connected is not True:
                    self.log_line("info", "database connected")
                self._set_db_state(True, "")
                failures = 0
            except Exception as exc:  # unreachable, auth, dropped connection, ...: all mean 'reconnect'
                failures += 1
                if self.db_connected is not False:
                    self.log_line("error", f"database unreachable, reconnecting: {describe(exc)}")
                self._set_db_state(False, describe(exc))
                await self.close_database()
                await asyncio.sleep(min(10.0, 0.5 * 2 ** min(failures, 5)))
                continue
            self._refresh_wanted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh_wanted.wait(), self.refresh_interval)

    async def close_database(self) -> None:
        """Drop the dashboard's pool (after a failure, at exit); the next refresh opens a new one."""
        store, self.store = self.store, None
        if store is not None:
            with contextlib.suppress(Exception):  # a broken pool has nothing else to release
                store.pool.terminate()

    async def refresh_now(self) -> None:
        """Read the database now and redraw (also used by tests once they seeded data)."""
        if self.store is None:
            return
        now = self.clock()
        self.data = await load_dashboard(self.store, self.selected_token, now)
        if self.selected_token is None and self.data.tokens:
            self.selected_token = self.data.tokens[0].id
        await self._load_live_rows(now)
        self._dirty = True
        self._redraw_if_dirty()

    def request_refresh(self) -> None:
        self._refresh_wanted.set()

    async def _load_live_rows(self, now: datetime) -> None:
        if self.store is not None and self.data is not None:
            here = self.selected_token in self._collected_here()
            window = self.query_one(PowerGraph).window
            await self.live.load(self.store, self.data.homes, now - window, now, from_events=here)

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
        self.log_line("error", f"collector failed: {message.error}; restarting in {message.retry_in:.0f}s")

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
    def _collected_here(self) -> set[int]:
        return self.manager.collected_tokens() if self.manager is not None else set()

    def _labels(self) -> dict[int, str]:
        return {t.id: t.label or f"token #{t.id}" for t in self.data.tokens} if self.data else {}

    def _secrets(self) -> list[str]:
        return [t.token for t in self.data.tokens] if self.data else []

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

    def _update_status(self) -> None:
        if self.db_connected is None:
            db = "[yellow]database: connecting…[/]"
        elif self.db_connected:
            db = "[green]database ok[/]"
        else:
            db = f"[bold red]database unreachable — reconnecting…[/] [dim]{self.db_error}[/]"
        mode = "observing" if self.observe else f"collecting {len(self._collected_here())} token(s)"
        budget = view.budget_text(self.budget, self.observe)
        self.query_one("#status", Static).update(f"[b]tibber-tui[/] {mode} │ {db} │ {budget}")

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
        reason = f" · [$error]{view.redact_markup(state, self._secrets())}[/]" if state.startswith("failed") else ""
        self.query_one("#tokens-pane").border_title = f"1 Tokens{reason}"
        self.query_one("#homes-pane").border_title = (
            f"2 Homes of {token.label or f'#{token.id}'}" if token else "2 Homes"
        )
        self.query_one(PowerGraph).refresh()

    def _graph_data(self, columns: int) -> GraphData | None:
        """The selected home's samples downsampled to the graph's columns (the widget never sees raw samples)."""
        home = next((h for h in self.data.homes if h.id == self.selected_home), None) if self.data else None
        if home is None:
            return None
        graph = self.query_one(PowerGraph)
        legend = "[$accent]█[/] consumption" + (" [$success]█[/] production" if home.has_production else "")
        title = f"3 Power of {view.home_name(home)} · {window_label(graph.window)} · {legend}"
        self.query_one("#graph-pane").border_title = title
        return self.live.graph_data(home.id, graph.window, self.clock(), columns)

    # lifecycle ----------------------------------------------------------------------------------------------
    async def stop_collector(self, grace: float = 6.0) -> None:
        """Cancel the collector worker and wait for its cleanup (flush, close sockets, release leases)."""
        worker = self._collector_worker
        if worker is None or worker.is_finished:
            return
        worker.cancel()
        # WorkerCancelled / WorkerFailed / timeout: the collector is gone either way
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.wait(), grace)

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
