"""Intervals of the collector that are not user settings, injectable so tests and benchmarks run fast."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True, slots=True)
class CollectorTimings:
    """Internal intervals (seconds). User-facing ones (leases, flushes, reconcile) live in ``Config``."""

    debounce: float = 0.05
    """Wait after a token notification so a burst of changes costs one reconcile."""
    status_interval: float = 2.0
    """Loader status rows are written at most this often per home and loader."""
    budget_interval: float = 1.0
    """How often the rate budget is sampled for ``BudgetChanged`` events."""
    history_refresh: float = 3600.0
    """Re-read of the trailing window of consumption/production after the backfill."""
    homes_refresh: float = 86400.0
    """Re-read of a token's homes (names, addresses, production capability)."""
    price_poll: float = 900.0
    """Retry interval for tomorrow's prices once their publish time has passed."""
    price_publish: time = time(13, 0)
    """Local time at which tomorrow's prices are normally published."""
    retry_base: float = 1.0
    """First retry delay after a transient API or database error (doubles, jittered)."""
    retry_cap: float = 300.0
    """Longest retry delay."""
    ping_interval: float = 30.0
    """Websocket protocol ping."""
    stale_after: float = 90.0
    """A live stream without data this long reconnects."""
    live_backoff: Callable[[int], float] | None = None
    """Reconnect delay of the live stream per failure count; None = the client's official-SDK backoff."""
    live_cooldown: Callable[[int], float] | None = None
    """Live stream pause after 4429/429 per occurrence; None = the client's default (minutes)."""
    resubscribe_delay: float = 5.0
    """Pause before re-subscribing one home after the server ended its subscription."""
    rate_limit_cooldown: float = 600.0
    """HTTP pause after a 429 without ``Retry-After`` (Tibber's ban lasts about 10 minutes)."""
    client_retries: int = 3
    """Retries of a transient HTTP failure inside the client before the loader's own backoff takes over."""
    client_retry_delay: Callable[[int], float] | None = None
    """The client's delay per retry; None = its default."""
    stop_timeout: float = 1.0
    """How long stopping one token may take (live stream close, flush)."""
    jitter: float = 0.1
    """Fraction of an interval added at random so many homes do not run in step."""
