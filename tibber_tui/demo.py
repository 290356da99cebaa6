"""``tibber-tui demo``: the whole pipeline with nothing installed but the package.

An embedded PostgreSQL server (or the server of ``DATABASE_URL`` when set) with a demo database of its own
(``tibber_demo``, or ``<database>_demo`` next to the configured one: never the real data), the
simulator in a background thread, and three demo tokens: one with three homes (Oslo, Stockholm,
Amsterdam), one with a producing home, and one the simulator rejects, so the error state is visible too.
Then the dashboard, or with ``--no-ui`` the headless collector.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tibber_tui.config import Config

if TYPE_CHECKING:
    from tibber_tui.simulator.model import SimHome

log = logging.getLogger(__name__)

DEMO_DATABASE = "tibber_demo"
"""The embedded server's database for the demo, so demo tokens never mix with real ones."""


def demo_database_name(database: str) -> str:
    """The demo's database beside a configured one: demo tokens and real tokens never share a table."""
    return f"{database}_demo"


HOUSEHOLD_TOKEN = "demo-household-3-homes-0000000000000000000000000000000001"
SOLAR_TOKEN = "demo-solar-home-000000000000000000000000000000000000000002"
INVALID_TOKEN = "demo-invalid-token-0000000000000000000000000000000000000003"
"""Not known to the simulator: the API rejects it and the dashboard shows the failed state."""

DEMO_TOKENS: tuple[tuple[str, str], ...] = (
    (HOUSEHOLD_TOKEN, "Demo: three homes"),
    (SOLAR_TOKEN, "Demo: solar home"),
    (INVALID_TOKEN, "Demo: invalid token"),
)


def demo_homes() -> dict[str, list[SimHome]]:
    """The simulated homes per demo token (fixed ids, so data continues across demo runs)."""
    from tibber_tui.simulator.model import SimHome

    return {
        HOUSEHOLD_TOKEN: [
            SimHome(
                "8f5f0a6e-1b7c-4c47-9d8e-000000000001",
                "Oslo flat",
                "Europe/Oslo",
                "Storgata 12",
                "0155",
                "Oslo",
                "NO",
            ),
            SimHome(
                "8f5f0a6e-1b7c-4c47-9d8e-000000000002",
                "Stockholm house",
                "Europe/Stockholm",
                "Kungsgatan 8",
                "111 43",
                "Stockholm",
                "SE",
                size=1.6,
            ),
            SimHome(
                "8f5f0a6e-1b7c-4c47-9d8e-000000000003",
                "Amsterdam canal house",
                "Europe/Amsterdam",
                "Keizersgracht 100",
                "1015 CX",
                "Amsterdam",
                "NL",
                size=0.8,
            ),
        ],
        SOLAR_TOKEN: [
            SimHome(
                "8f5f0a6e-1b7c-4c47-9d8e-000000000004",
                "Solar farmhouse",
                "Europe/Oslo",
                "Gardsveien 3",
                "2000",
                "Lillestrøm",
                "NO",
                producing=True,
                size=1.3,
            )
        ],
    }


@dataclass
class DemoEnvironment:
    """What ``prepare_demo`` set up; ``close()`` stops the simulator (the embedded server keeps running)."""

    config: Config
    dsn: str
    simulator_thread: object
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            with contextlib.suppress(Exception):
                closer()


def _demo_dsn(config: Config) -> str:
    from tibber_tui.db.connection import create_database, database_name, dsn_with_database
    from tibber_tui.db.embedded import ensure_embedded_server

    if config.database_url:
        # Never the configured database itself: its instances would start collecting the demo tokens against the
        # real API, and the demo would mark real tokens as rejected by the simulator.
        dsn = dsn_with_database(config.database_url, demo_database_name(database_name(config.database_url)))
    else:
        dsn = dsn_with_database(ensure_embedded_server(config.data_dir), DEMO_DATABASE)
    asyncio.run(create_database(dsn))
    return dsn


async def _seed_tokens(dsn: str) -> None:
    from tibber_tui.db.connection import open_store
    from tibber_tui.db.store import TokenExists

    store = await open_store(dsn)
    try:
        for token, label in DEMO_TOKENS:
            with contextlib.suppress(TokenExists):
                await store.add_token(token, label=label)
    finally:
        await store.close()


def prepare_demo(config: Config, frame_interval: float = 2.0) -> DemoEnvironment:
    """Database migrated with the demo tokens, simulator running; the config points at both."""
    from tibber_tui.simulator import SimConfig, run_in_thread

    dsn = _demo_dsn(config)
    asyncio.run(_seed_tokens(dsn))
    thread = run_in_thread(SimConfig(frame_interval=frame_interval), dict(demo_homes()))
    # TIBBER_API_TOKEN is a real token: it has no place among the demo's simulated ones.
    env = DemoEnvironment(config.replace(api_url=thread.url, database_url=dsn, api_token=None), dsn, thread)
    env._closers.append(thread.stop)
    return env


def demo_command(args: argparse.Namespace, config: Config) -> int:
    """``tibber-tui demo [--no-ui]``."""
    frame_interval = float(getattr(args, "frame_interval", 2.0) or 2.0)
    headless = bool(getattr(args, "no_ui", False))
    if headless:
        from tibber_tui.headless import setup_logging

        setup_logging(config)
    env = prepare_demo(config, frame_interval)
    try:
        if headless:
            from tibber_tui.headless import run_headless

            log.info("demo: simulator at %s; %d demo tokens", env.config.api_url, len(DEMO_TOKENS))
            return asyncio.run(run_headless(env.config, env.dsn))
        from tibber_tui.ui.command import run_dashboard

        return run_dashboard(env.config, env.dsn)
    finally:
        env.close()
