"""Fixtures of the dashboard tests: a seeded database and an app factory bound to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.ui.helpers import IdleCollector, fixed_clock, seed
from tibber_tui.config import Config
from tibber_tui.db.store import Store
from tibber_tui.ui.app import TibberApp, make_app


@pytest.fixture
async def seeded(store: Store) -> dict[str, int]:
    """The deterministic data set of ``helpers.seed``; returns the token ids by name."""
    return await seed(store)


@pytest.fixture
def observer_app(database_url: str) -> Callable[..., TibberApp]:
    """Builds a dashboard without any collector, on a frozen clock, refreshing quickly."""

    def build(**options: Any) -> TibberApp:
        options.setdefault("observe", True)
        options.setdefault("clock", fixed_clock)
        options.setdefault("manager_factory", IdleCollector)
        options.setdefault("refresh_interval", 0.2)
        options.setdefault("redraw_interval", 0.05)
        return make_app(Config(database_url=database_url), options.pop("dsn", database_url), **options)

    return build
