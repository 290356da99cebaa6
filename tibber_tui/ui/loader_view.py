"""The loader pane's text: the wide table rows, the compact one-row-per-home cells and the selected loader's detail.

Pure functions (no Textual): the widget decides which layout fits, these decide what each cell says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from rich.text import Text

from tibber_tui.db.store import LoaderStatusRow
from tibber_tui.secrets import redact
from tibber_tui.ui.view import duration, literal
from tibber_tui.ui.widgets.table_sync import Row

COMPACT_LOADERS: tuple[tuple[str, str], ...] = (
    ("live", "Live"),
    ("consumption", "Cons."),
    ("production", "Prod."),
    ("prices", "Prices"),
)
"""(loader, column header) of the compact layout, in the order a user reads them."""

STATE_SYMBOLS: dict[str, tuple[str, str]] = {
    "running": ("●", "green"),
    "waiting": ("✓", "green"),
    "backfilling": ("↓", "cyan"),
    "starting": ("…", "yellow"),
    "backing_off": ("↻", "yellow"),
    "failed": ("✗", "bold red"),
    "stopped": ("○", "dim"),
    "idle": ("–", "dim"),
}
"""Symbol and style of a loader state in a compact cell (the help screen explains them)."""

STATE_LEGEND = " ".join(f"{symbol} {state.replace('_', ' ')}" for state, (symbol, _) in STATE_SYMBOLS.items())

# How bad a state is, to pick the loader a home's detail talks about (worst first).
_SEVERITY = {"failed": 0, "backing_off": 1, "starting": 2, "backfilling": 3, "running": 4, "waiting": 5}


def state_words(state: str) -> str:
    """``backing_off`` -> ``backing off``."""
    return state.replace("_", " ")


def compact_count(rows: int) -> str:
    """At most four characters: ``950``, ``4.5k``, ``45k``, ``1.2M``."""
    if rows < 1000:
        return str(rows)
    for size, unit in ((1_000_000_000, "G"), (1_000_000, "M"), (1000, "k")):
        if rows >= size:
            value = rows / size
            return f"{value:.1f}{unit}" if value < 9.95 else f"{round(value)}{unit}"
    return str(rows)  # pragma: no cover - the loop always returns for rows >= 1000


def loader_cell(row: LoaderStatusRow | None) -> Text:
    """State symbol and rows written, coloured by state; ``—`` for a loader this home does not have (yet)."""
    if row is None:
        return Text("—", style="dim")
    symbol, style = STATE_SYMBOLS.get(row.state, ("?", ""))
    cell = Text(symbol, style=style)
    cell.append(f" {compact_count(row.rows_written)}", style="red" if row.last_error else "")
    return cell


def _sorted_homes(names: Mapping[str, str]) -> list[str]:
    return sorted(names, key=lambda home_id: (names[home_id], home_id))


def compact_rows(loaders: Iterable[LoaderStatusRow], names: Mapping[str, str]) -> list[Row]:
    """One row per home in ``names`` (keyed by home id): the name, then a cell per loader of COMPACT_LOADERS."""
    by_key = {(r.home_id, r.loader): r for r in loaders}
    return [
        (
            home_id,
            (literal(names[home_id]), *(loader_cell(by_key.get((home_id, loader))) for loader, _ in COMPACT_LOADERS)),
        )
        for home_id in _sorted_homes(names)
    ]


def worst_loader(rows: Iterable[LoaderStatusRow]) -> LoaderStatusRow | None:
    """The loader of a home most worth reading about: failed, backing off, with an error, ... in that order."""
    order = {loader: i for i, (loader, _) in enumerate(COMPACT_LOADERS)}
    ranked = sorted(
        rows, key=lambda r: (_SEVERITY.get(r.state, 6), r.last_error is None, order.get(r.loader, 9), r.loader)
    )
    return ranked[0] if ranked else None


def _when(row: LoaderStatusRow, now: datetime) -> list[str]:
    # clocks of two instances may disagree a little: a "future" success is just now
    parts = [
        f"ok {duration(max(0.0, (now - row.last_success).total_seconds()))} ago" if row.last_success else "never ok"
    ]
    if row.next_run is not None:
        seconds = (row.next_run - now).total_seconds()
        parts.append(f"next {duration(seconds)}" if seconds > 0 else "next due")
    return parts


def _plain(text: str, secrets: Sequence[str]) -> str:
    return redact(text, list(secrets)).replace("[", "\\[")


def loader_title_markup(row: LoaderStatusRow | None, loader: str, now: datetime, secrets: Sequence[str] = ()) -> str:
    """The selected loader in a few words for the pane title (the highlighted row already names the home).

    ``consumption backfilling · ok 2m ago · next 5m`` or ``production: HTTP 503 …`` (the error first: at 80
    columns the title has room for about 35 characters). Secrets masked, brackets escaped.
    """
    if row is None:
        return f"no {loader} loader"
    if row.last_error:  # the cell's symbol already tells the state
        return f"{loader}: [$error]{_plain(row.last_error, secrets)}[/]"
    return " · ".join([f"{loader} {state_words(row.state)}", *_when(row, now)])


def loader_detail_markup(
    row: LoaderStatusRow | None, home: str, loader: str, now: datetime, secrets: Sequence[str] = ()
) -> str:
    """Everything about one loader, one field per line, for the detail dialog (long errors wrap there)."""
    title = f"[b]{_plain(home, secrets)} · {loader}[/]"
    if row is None:
        return f"{title}\n\nThis home has no {loader} loader (yet)."

    def at(when: datetime | None) -> str:
        if when is None:
            return "—"
        seconds = (when - now).total_seconds()
        relative = f"in {duration(seconds)}" if seconds > 0 else f"{duration(seconds)} ago"
        return f"{when.astimezone(now.tzinfo):%Y-%m-%d %H:%M:%S} ({relative})"

    fields = [
        ("State", state_words(row.state)),
        ("Rows written", f"{row.rows_written:,}".replace(",", " ")),
        ("Last success", at(row.last_success)),
        ("Next run", at(row.next_run)),
        ("Collected by", _plain(row.owner, secrets) if row.owner else "—"),
        ("Last error", f"[$error]{_plain(row.last_error, secrets)}[/]" if row.last_error else "—"),
    ]
    return title + "\n\n" + "\n".join(f"[$accent]{name:<13}[/]{value}" for name, value in fields)
