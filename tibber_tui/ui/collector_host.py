"""How the app hosts the collector: the factory type, the default factory, and the restart backoff."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from tibber_tui.collector.events import EventSink
from tibber_tui.config import Config


class CollectorHost(Protocol):
    """What the app needs of ``tibber_tui.collector.manager.Manager``."""

    instance_id: uuid.UUID

    async def run(self) -> None: ...

    def collected_tokens(self) -> set[int]: ...


ManagerFactory = Callable[[Config, str, EventSink, bool], CollectorHost]
"""(config, dsn, sink, observe) -> a collector host; ``make_app`` uses ``default_manager_factory`` when None."""


def default_manager_factory(config: Config, dsn: str, sink: EventSink, observe: bool) -> CollectorHost:
    """The real Manager in TUI mode (imported lazily: it pulls in the API client)."""
    from tibber_tui.collector.manager import Manager

    return Manager(config, dsn, sink, mode="tui", observe=observe)


def restart_delay(failures: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds before restarting a failed collector: 1, 2, 4, ... capped at 30 (no tight crash loop)."""
    return float(min(cap, base * 2 ** max(0, failures - 1)))
