"""One read of everything the panes show from the database (the source of truth shared by all instances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tibber_tui.db import dashboard_queries as dq
from tibber_tui.db.store import LoaderStatusRow, Store, TokenRow, TokenStatus
from tibber_tui.tibber.models import Home


@dataclass(slots=True)
class DashboardData:
    """A consistent-enough picture of the database at ``read_at`` (several statements, no transaction needed)."""

    read_at: datetime
    tokens: list[TokenRow] = field(default_factory=list)
    statuses: dict[int, TokenStatus] = field(default_factory=dict)
    owners: dict[int, dq.LeaseOwner] = field(default_factory=dict)
    home_counts: dict[int, int] = field(default_factory=dict)
    loaders: list[LoaderStatusRow] = field(default_factory=list)
    homes: list[Home] = field(default_factory=list)
    """Homes of the selected token."""
    figures: dict[str, dq.HomeFigures] = field(default_factory=dict)


async def load_dashboard(store: Store, selected_token: int | None, now: datetime) -> DashboardData:
    """Read tokens, their states and owners, and the homes and loaders of ``selected_token``."""
    data = DashboardData(read_at=now)
    data.tokens = await store.list_tokens()
    data.statuses = await store.token_statuses()
    data.owners = await dq.lease_owners(store.pool)
    data.home_counts = await dq.home_counts(store.pool)
    data.loaders = await store.loader_statuses()
    if selected_token is None and data.tokens:
        selected_token = data.tokens[0].id
    if selected_token is not None and any(t.id == selected_token for t in data.tokens):
        data.homes = await store.homes_of_token(selected_token)
        data.figures = await dq.home_figures(store.pool, [h.id for h in data.homes], now)
    return data
