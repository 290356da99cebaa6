"""Retry delays: jittered exponential for HTTP retries, the official SDK's rule for websocket reconnects."""

from __future__ import annotations

import random

MAX_RECONNECT_DELAY = 86_400.0
"""Tibber's SDK never waits longer than a day between reconnects."""


def official_sdk_backoff(failures: int) -> float:
    """Seconds before websocket reconnect number ``failures``: random 5-60 s plus failures², capped at a day.

    This is Tibber.SDK.NET's ``RealTimeMeasurementListener`` rule; the random part spreads the reconnects
    of many clients after a Tibber outage.
    """
    return min(random.uniform(5.0, 60.0) + float(failures) ** 2, MAX_RECONNECT_DELAY)


def retry_backoff(attempt: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds before HTTP retry ``attempt`` (1, 2, ...): "full jitter" exponential backoff, as Tibber asks for."""
    return random.uniform(0.0, min(cap, base * 2.0 ** max(attempt - 1, 0)))
