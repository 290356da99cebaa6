"""Typed events: the only way the core tells the UI or the log what happens.

The core calls ``sink.emit(event)``; it must never block. The UI turns events into Textual messages,
headless mode logs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

LoaderName = Literal["live", "consumption", "production", "prices"]
LoaderState = Literal["idle", "starting", "running", "backfilling", "waiting", "backing_off", "failed", "stopped"]
Level = Literal["info", "warning", "error"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CollectorStarted:
    token_id: int
    label: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class CollectorStopped:
    token_id: int
    reason: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class TokenFailed:
    """The token was rejected (invalid, expired); no retry until the token row changes."""

    token_id: int
    reason: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class LoaderStateChanged:
    token_id: int
    home_id: str
    loader: LoaderName
    state: LoaderState
    rows_written: int = 0
    last_success: datetime | None = None
    next_run: datetime | None = None
    last_error: str | None = None
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class RowsWritten:
    token_id: int
    home_id: str
    table: Literal["homes", "prices", "consumption", "production", "real_time_measurements"]
    count: int
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class LiveSample:
    """One live frame for graphs; never coalesced or dropped by the UI."""

    token_id: int
    home_id: str
    timestamp: datetime
    power: float | None
    power_production: float | None
    accumulated_consumption: float | None = None


@dataclass(frozen=True, slots=True)
class StreamStateChanged:
    """The token's websocket connected, dropped, went stale or backs off."""

    token_id: int
    state: Literal["connecting", "connected", "stale", "reconnecting", "cooling_down", "closed"]
    detail: str = ""
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class DatabaseStateChanged:
    connected: bool
    detail: str = ""
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class BudgetChanged:
    """The process-wide API rate budget: requests used in the window, queued work and its ETA."""

    used: int
    limit: int
    window_seconds: float
    queued: int
    eta_seconds: float | None
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class LogMessage:
    """Anything else worth a line in the event log."""

    level: Level
    message: str
    token_id: int | None = None
    at: datetime = field(default_factory=_now)


Event = (
    CollectorStarted
    | CollectorStopped
    | TokenFailed
    | LoaderStateChanged
    | RowsWritten
    | LiveSample
    | StreamStateChanged
    | DatabaseStateChanged
    | BudgetChanged
    | LogMessage
)


class EventSink(Protocol):
    """Receives core events. ``emit`` is called from the event loop and must return at once."""

    def emit(self, event: Event) -> None: ...


class NullSink:
    """A sink that drops everything."""

    def emit(self, event: Event) -> None:
        return None


class ListSink:
    """A sink that keeps events in a list (tests, debugging)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


class FanoutSink:
    """Sends each event to several sinks."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = list(sinks)

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)
