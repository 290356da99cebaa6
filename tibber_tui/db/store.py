"""The Store: the one place with SQL. (CONTRACT STUB — bodies to be implemented; keep the signatures.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tibber_tui.tibber.models import Consumption, Home, LiveMeasurement, Price, Production


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    token: str
    label: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """The collector's verdict on a token: 'failed' with a reason, pinned to the row's updated_at."""

    token_id: int
    state: str
    reason: str | None
    token_updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class LoaderStatusRow:
    home_id: str
    loader: str
    token_id: int | None
    state: str
    rows_written: int
    last_success: datetime | None
    next_run: datetime | None
    last_error: str | None
    owner: str | None
    updated_at: datetime


class TokenExists(Exception):
    """``add_token`` of a token that is already in the table."""

    def __init__(self, token_id: int) -> None:
        super().__init__(f"token already present as id {token_id}")
        self.token_id = token_id


class TokenNotFound(Exception):
    def __init__(self, token_id: int) -> None:
        super().__init__(f"no token with id {token_id}")
        self.token_id = token_id


class Store:
    """All reads and writes of schema ``tibber``; every write is an idempotent, set-based upsert."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # tokens
    async def add_token(self, token: str, label: str | None = None, active: bool = True) -> TokenRow:
        raise NotImplementedError

    async def list_tokens(self) -> list[TokenRow]:
        raise NotImplementedError

    async def get_token(self, token_id: int) -> TokenRow | None:
        raise NotImplementedError

    async def active_tokens(self) -> list[TokenRow]:
        raise NotImplementedError

    async def set_token_active(self, token_id: int, active: bool) -> TokenRow:
        raise NotImplementedError

    async def remove_token(self, token_id: int) -> None:
        raise NotImplementedError

    async def set_token_status(self, token_id: int, state: str, reason: str | None) -> None:
        """Record the collector's verdict, pinned to the token row's current updated_at."""
        raise NotImplementedError

    async def token_statuses(self) -> dict[int, TokenStatus]:
        raise NotImplementedError

    # homes
    async def upsert_homes(self, token_id: int, homes: Sequence[Home]) -> int:
        """Upsert homes and replace the token's token_homes links with exactly these homes."""
        raise NotImplementedError

    async def homes_of_token(self, token_id: int) -> list[Home]:
        raise NotImplementedError

    # data
    async def upsert_prices(self, home_id: str, prices: Sequence[Price]) -> int:
        """Returns the number of rows inserted or changed."""
        raise NotImplementedError

    async def upsert_consumption(self, home_id: str, rows: Sequence[Consumption]) -> int:
        raise NotImplementedError

    async def upsert_production(self, home_id: str, rows: Sequence[Production]) -> int:
        raise NotImplementedError

    async def upsert_live(self, rows: Sequence[LiveMeasurement]) -> int:
        raise NotImplementedError

    async def history_bounds(self, home_id: str, table: str) -> tuple[datetime | None, datetime | None]:
        """Oldest and newest ``timestamp`` of non-null rows in consumption or production for a home."""
        raise NotImplementedError

    async def live_since(self, home_ids: Sequence[str], since: datetime, limit: int = 10000) -> list[LiveMeasurement]:
        """Live rows newer than ``since`` (for graphs of tokens collected elsewhere)."""
        raise NotImplementedError

    # status
    async def set_loader_status(
        self,
        home_id: str,
        loader: str,
        *,
        token_id: int | None,
        state: str,
        rows_written: int,
        last_success: datetime | None,
        next_run: datetime | None,
        last_error: str | None,
        owner: str | None,
    ) -> None:
        raise NotImplementedError

    async def loader_statuses(self) -> list[LoaderStatusRow]:
        raise NotImplementedError

    async def status_snapshot(self) -> dict[str, Any]:
        """The JSON-able state for ``tibber-tui status --json`` (shape documented in the README)."""
        raise NotImplementedError
