"""How rows and events become pane text: token states, masking, loader rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tibber_tui.collector import events as ev
from tibber_tui.db.dashboard_queries import LeaseOwner
from tibber_tui.db.store import LoaderStatusRow, TokenRow, TokenStatus
from tibber_tui.ui import view

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SECRET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-7BE1"
ME = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)


def _token(active: bool = True, updated: datetime = NOW) -> TokenRow:
    return TokenRow(id=7, token=SECRET, label="home", active=active, created_at=NOW, updated_at=updated)


def test_token_states() -> None:
    token = _token()
    other = LeaseOwner(7, OTHER, "server-1", 42, "headless", True)
    expired = LeaseOwner(7, OTHER, "server-1", 42, "headless", False)
    mine = LeaseOwner(7, ME, "laptop", 1, "tui", True)
    assert view.token_state(token, None, None, {7}, ME) == "collecting"
    assert view.token_state(token, None, mine, set(), ME) == "collecting"
    assert view.token_state(token, None, None, {7}, ME, "reconnecting") == "collecting (reconnecting)"
    assert view.token_state(token, None, other, set(), ME) == "collected by another instance: server-1"
    assert view.token_state(token, None, expired, set(), ME) == "waiting"
    assert view.token_state(_token(active=False), None, None, set(), ME) == "idle"


def test_failed_state_only_for_the_row_version_it_was_pinned_to() -> None:
    failed = TokenStatus(7, "failed", "invalid token", NOW)
    assert view.token_state(_token(), failed, None, set(), None) == "failed: invalid token"
    # the user changed the row (e.g. toggled it): the old verdict no longer applies
    assert view.token_state(_token(updated=NOW + timedelta(seconds=1)), failed, None, set(), None) == "waiting"


def test_token_rows_never_show_the_whole_token() -> None:
    rows = view.token_rows([_token()], {7: "collecting"}, {7: 3})
    key, cells = rows[0]
    assert key == "7"
    assert SECRET not in "".join(str(c) for c in cells)
    assert str(cells[1]) == "…7BE1" and str(cells[4]) == "3"


def test_event_lines_are_redacted() -> None:
    event = ev.LogMessage("error", f"request with {SECRET} failed", token_id=7)
    line = view.event_line(event, {7: "home"}, [SECRET])
    assert line is not None
    level, text = line
    assert level == "error" and SECRET not in text and "…7BE1" in text and text.startswith("home: ")
    assert view.event_line(ev.RowsWritten(7, "h", "prices", 5), {}, []) is None


def test_loader_rows_sorted_by_home_then_loader_with_relative_times() -> None:
    def row(home: str, loader: str, error: str | None = None) -> LoaderStatusRow:
        return LoaderStatusRow(
            home, loader, 7, "running", 10, NOW - timedelta(minutes=3), NOW + timedelta(seconds=30), error, None, NOW
        )

    rows = view.loader_rows(
        [row("h2", "prices"), row("h1", "production", f"bad {SECRET}"), row("h1", "live"), row("x", "live")],
        {"h1": "Alpha", "h2": "Beta"},
        NOW,
        [SECRET],
    )
    assert [k for k, _ in rows] == ["h1/live", "h1/production", "h2/prices"]
    cells = rows[1][1]
    assert str(cells[4]) == "3m" and str(cells[5]) == "in 30s" and SECRET not in str(cells[6])


def test_budget_text() -> None:
    assert view.budget_text(None, observe=True) == "API: not used (observing)"
    budget = ev.BudgetChanged(used=12, limit=80, window_seconds=300, queued=4, eta_seconds=250)
    assert view.budget_text(budget, observe=False) == "API 12/80 per 5 min · 4 queued · backfill ETA 4m"
