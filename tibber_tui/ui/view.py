"""Turning database rows and core events into the text of the panes (pure functions, no Textual)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from rich.text import Text

from tibber_tui.collector import events as ev
from tibber_tui.db.dashboard_queries import HomeFigures, LeaseOwner
from tibber_tui.db.store import LoaderStatusRow, TokenRow, TokenStatus
from tibber_tui.secrets import mask_token, redact
from tibber_tui.tibber.models import Home
from tibber_tui.ui.widgets.power_graph import format_watts, window_label
from tibber_tui.ui.widgets.table_sync import Row

LEVEL_STYLES = {
    "VERY_CHEAP": "bold green",
    "CHEAP": "green",
    "NORMAL": "",
    "EXPENSIVE": "yellow",
    "VERY_EXPENSIVE": "bold red",
}
TROUBLED_STREAM_STATES = {"connecting", "stale", "reconnecting", "cooling_down"}
LOADER_ORDER = {"live": 0, "prices": 1, "consumption": 2, "production": 3}


def token_state(
    token: TokenRow,
    status: TokenStatus | None,
    owner: LeaseOwner | None,
    collected_here: set[int],
    instance_id: uuid.UUID | None,
    stream_state: str | None = None,
) -> str:
    """collecting / collected by another instance: host / failed: reason / waiting / idle."""
    if status is not None and status.state == "failed" and status.token_updated_at == token.updated_at:
        return f"failed: {status.reason or 'rejected by the API'}"
    if token.id in collected_here or (owner and owner.valid and instance_id and owner.owner == instance_id):
        if stream_state in TROUBLED_STREAM_STATES:
            return f"collecting ({stream_state.replace('_', ' ')})"
        return "collecting"
    if owner is not None and owner.valid and token.active:
        return f"collected by another instance: {owner.host or str(owner.owner)[:8]}"
    return "waiting" if token.active else "idle"


def state_text(state: str) -> Text:
    style = "bold red" if state.startswith("failed") else "green" if state.startswith("collect") else "dim"
    if state.startswith("collecting ("):
        style = "yellow"
    return Text(state, style=style)


def literal(text: str) -> Text:
    """A table cell showing ``text`` as it is: a plain ``str`` cell would be parsed as Textual markup, so a
    ``[`` in a token label or a home's name (user and API text) would garble the cell or crash the app."""
    return Text(text, no_wrap=True, end="")


def token_rows(
    tokens: Sequence[TokenRow],
    states: Mapping[int, str],
    counts: Mapping[int, int],
) -> list[Row]:
    return [
        (
            str(t.id),
            (
                literal(t.label or f"#{t.id}"),
                literal(mask_token(t.token)),
                Text("yes", style="green") if t.active else Text("no", style="dim"),
                state_text(states.get(t.id, "")),
                str(counts.get(t.id, 0)),
            ),
        )
        for t in tokens
    ]


def home_name(home: Home) -> str:
    return home.nickname or home.address.address1 or home.id[:8]


def home_rows(homes: Sequence[Home], figures: Mapping[str, HomeFigures], live_power: Mapping[str, float]) -> list[Row]:
    """Name, address, live W (newest of event and DB), today's kWh, price + level, production yes/no."""
    rows: list[Row] = []
    for home in homes:
        fig = figures.get(home.id)
        power = live_power.get(home.id, fig.power if fig else None)
        address = ", ".join(p for p in (home.address.address1, home.address.city) if p)
        today = f"{fig.today_kwh:.2f} kWh" if fig and fig.today_kwh is not None else "—"
        price: str | Text = "—"
        if fig and fig.price_total is not None:
            level = fig.price_level or ""
            price = Text(f"{fig.price_total:.2f} {level.replace('_', ' ').lower()}", style=LEVEL_STYLES.get(level, ""))
        live = format_watts(power) if power is not None else ("—" if home.realtime_enabled else "no live")
        rows.append(
            (
                home.id,
                (
                    literal(home_name(home)),
                    literal(address or "—"),
                    live,
                    today,
                    price,
                    "yes" if home.has_production else "no",
                ),
            )
        )
    return rows


def duration(seconds: float) -> str:
    """``45s``, ``4m``, ``3h``, ``2d``: the largest whole unit."""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def ago(at: datetime | None, now: datetime) -> str:
    """``12s``, ``5m``, ``3h`` ago, or ``in 5m`` for the future; ``—`` when unknown."""
    if at is None:
        return "—"
    seconds = (now - at).total_seconds()
    return f"in {duration(seconds)}" if seconds < 0 else duration(seconds)


def loader_rows(
    loaders: Iterable[LoaderStatusRow],
    names: Mapping[str, str],
    now: datetime,
    secrets: Sequence[str] = (),
) -> list[Row]:
    """Rows of the loader pane for the homes in ``names``, ordered by home then loader."""
    chosen = sorted(
        (r for r in loaders if r.home_id in names),
        key=lambda r: (names[r.home_id], LOADER_ORDER.get(r.loader, 9), r.loader),
    )
    rows: list[Row] = []
    for r in chosen:
        state = Text(r.state, style="bold red" if r.state == "failed" else "yellow" if r.state == "backing_off" else "")
        error = redact(r.last_error, list(secrets)) if r.last_error else ""
        rows.append(
            (
                f"{r.home_id}/{r.loader}",
                (
                    literal(names[r.home_id]),
                    r.loader,
                    state,
                    str(r.rows_written),
                    ago(r.last_success, now),
                    ago(r.next_run, now),
                    Text(error, style="red") if error else "",
                ),
            )
        )
    return rows


def merge_loader_event(row: LoaderStatusRow | None, event: ev.LoaderStateChanged) -> LoaderStatusRow:
    """The newer of a database row and a loader event of this instance."""
    if row is not None and row.updated_at >= event.at:
        return row
    return LoaderStatusRow(
        home_id=event.home_id,
        loader=event.loader,
        token_id=event.token_id,
        state=event.state,
        rows_written=event.rows_written,
        last_success=event.last_success,
        next_run=event.next_run,
        last_error=event.last_error,
        owner=row.owner if row else None,
        updated_at=event.at,
    )


def budget_text(budget: ev.BudgetChanged | None, observe: bool) -> str:
    """``API 12/80 per 5 min · 3 queued · backfill ETA 4m``."""
    if budget is None:
        return "API: not used (observing)" if observe else "API: idle"
    text = f"API {budget.used}/{budget.limit} per {window_label(timedelta(seconds=budget.window_seconds))}"
    if budget.queued:
        text += f" · {budget.queued} queued"
    if budget.eta_seconds is not None and budget.queued:
        text += f" · backfill ETA {duration(budget.eta_seconds)}"
    return text


def event_line(event: ev.Event, labels: Mapping[int, str], secrets: Sequence[str]) -> tuple[str, str] | None:
    """(level, message) for the event log, or None for events that only update panes."""

    def who(token_id: int | None) -> str:
        return labels.get(token_id, f"token #{token_id}") if token_id is not None else ""

    line: tuple[str, str] | None
    if isinstance(event, ev.CollectorStarted):
        line = ("info", f"started collecting {event.label or who(event.token_id)}")
    elif isinstance(event, ev.CollectorStopped):
        line = ("info", f"stopped {who(event.token_id)}: {event.reason}")
    elif isinstance(event, ev.TokenFailed):
        line = ("error", f"{who(event.token_id)} failed: {event.reason}")
    elif isinstance(event, ev.StreamStateChanged):
        level = "warning" if event.state in TROUBLED_STREAM_STATES else "info"
        detail = f" ({event.detail})" if event.detail else ""
        line = (level, f"{who(event.token_id)} live stream {event.state.replace('_', ' ')}{detail}")
    elif isinstance(event, ev.DatabaseStateChanged):
        state = "connected" if event.connected else "unreachable, reconnecting"
        detail = f": {event.detail}" if event.detail else ""
        line = ("info" if event.connected else "error", f"collector database {state}{detail}")
    elif isinstance(event, ev.LoaderStateChanged):
        if event.state != "failed":
            return None
        line = ("error", f"{event.loader} loader of {event.home_id[:8]} failed: {event.last_error or '?'}")
    elif isinstance(event, ev.LogMessage):
        prefix = f"{who(event.token_id)}: " if event.token_id is not None else ""
        line = (event.level, prefix + event.message)
    else:
        return None
    return line[0], redact(line[1], list(secrets))


def redact_markup(text: str, secrets: Sequence[str]) -> str:
    """Secrets masked and square brackets escaped, for text put into Textual markup (titles)."""
    return redact(text, list(secrets)).replace("[", "\\[")
