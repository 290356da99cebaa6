"""Token actions of the dashboard: toggle active, add (dialog), remove (confirmation).

They only change ``tibber_tokens``; the database trigger makes every instance, this one included, follow.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from textual import work
from textual.app import App

from tibber_tui.db.store import Store, TokenExists, TokenNotFound, TokenRow
from tibber_tui.errors import describe
from tibber_tui.secrets import mask_token
from tibber_tui.ui.dashboard_data import DashboardData
from tibber_tui.ui.screens.add_token import AddTokenScreen, NewToken
from tibber_tui.ui.screens.confirm import ConfirmScreen

NO_ANSWER = "The database did not answer; try again when it is back."


class TokenActions(App[int]):
    """Mixin of the dashboard app; the app provides the state and ``log_line``/``request_refresh``."""

    store: Store | None
    data: DashboardData | None
    selected_token: int | None
    _toggle_lock: asyncio.Lock
    db_timeout: float

    def log_line(self, level: str, message: str, at: datetime | None = None) -> None:
        raise NotImplementedError

    def request_refresh(self) -> None:
        raise NotImplementedError

    def action_toggle_token(self) -> None:
        token = self._selected_token_row()
        if token is not None:
            self._toggle_active(token.id)

    def action_add_token(self) -> None:
        def submitted(new: NewToken | None) -> None:
            if new is not None:
                self._add_token(new)

        self.push_screen(AddTokenScreen(), submitted)

    def action_remove_token(self) -> None:
        token = self._selected_token_row()
        if token is None:
            return
        name = token.label or f"#{token.id}"
        question = f"Remove token {name} ({mask_token(token.token)})?\nIts collectors stop; stored data is kept."

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove_token(token.id, name)

        self.push_screen(ConfirmScreen(question, yes="Remove"), answered)

    @work(group="actions")
    async def _toggle_active(self, token_id: int) -> None:
        # Only the table changes here: the trigger tells every instance, this one included, what to do.
        # The current value is read from the database, not from the (up to refresh_interval old) screen.
        store = self._require_store()
        if store is None:
            return

        async def flip() -> TokenRow:
            async with self._toggle_lock:  # two quick presses flip twice, never both to the same value
                current = await store.get_token(token_id)
                if current is None:
                    raise TokenNotFound(token_id)
                return await store.set_token_active(token_id, not current.active)

        try:
            # bounded: a dead network must not keep the lock (and every later toggle) forever
            row = await asyncio.wait_for(flip(), self.db_timeout)
        except TokenNotFound:
            self.notify("That token was removed meanwhile.", severity="warning")
        except Exception as exc:
            self._database_failed(exc)
        else:
            self.log_line("info", f"{row.label or f'token #{row.id}'} {'activated' if row.active else 'deactivated'}")
        self.request_refresh()

    @work(group="actions")
    async def _add_token(self, new: NewToken) -> None:
        store = self._require_store()
        if store is None:
            return
        try:
            row = await asyncio.wait_for(store.add_token(new.token, new.label), self.db_timeout)
        except TokenExists as exc:
            self.notify(f"That token is already present as #{exc.token_id}.", severity="warning")
            return
        except Exception as exc:
            self._database_failed(exc)
            return
        self.log_line("info", f"added token {row.label or f'#{row.id}'} ({mask_token(row.token)})")
        self.request_refresh()

    @work(group="actions")
    async def _remove_token(self, token_id: int, name: str) -> None:
        store = self._require_store()
        if store is None:
            return
        try:
            await asyncio.wait_for(store.remove_token(token_id), self.db_timeout)
        except TokenNotFound:
            pass
        except Exception as exc:
            self._database_failed(exc)
            return
        self.log_line("info", f"removed token {name}")
        if self.selected_token == token_id:
            self.selected_token = None
        self.request_refresh()

    def _database_failed(self, exc: Exception) -> None:
        """One notification for a store call that failed or timed out (``db_timeout``)."""
        if isinstance(exc, TimeoutError):
            self.notify(NO_ANSWER, severity="error")
        else:
            self.notify(describe(exc), severity="error", markup=False)

    def _require_store(self) -> Store | None:
        if self.store is None:
            self.notify("The database is not reachable right now; try again when it is back.", severity="error")
        return self.store

    def _selected_token_row(self) -> TokenRow | None:
        if self.data is None or self.selected_token is None:
            return None
        return next((t for t in self.data.tokens if t.id == self.selected_token), None)
