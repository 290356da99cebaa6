"""Tibber's per-IP request limit: N requests per sliding window, then a ban that traffic keeps renewing."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

TOO_MANY_REQUESTS_BODY = "Too many requests. Your IP is now temporarily banned for calling API for a few minutes."
"""The body Tibber sends with HTTP 429 (evcc #29032)."""


class RateLimiter:
    """Counts requests (and websocket upgrades) per client IP."""

    def __init__(self, limit: int | None, window: float, ban_seconds: float, monotonic: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.ban_seconds = ban_seconds
        self._monotonic = monotonic
        self._hits: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}

    def configure(self, limit: int | None, window: float, ban_seconds: float) -> None:
        self.limit, self.window, self.ban_seconds = limit, window, ban_seconds

    def reset(self) -> None:
        self._hits.clear()
        self._banned_until.clear()

    def banned(self, ip: str) -> bool:
        """True while ``ip`` is banned (does not count a request)."""
        return self._banned_until.get(ip, 0.0) > self._monotonic()

    def allow(self, ip: str) -> bool:
        """Count one request from ``ip``; False means answer 429.

        A request during a ban renews the ban (Tibber support: "renewed if traffic continues").
        """
        if self.limit is None:
            return True
        now = self._monotonic()
        if self._banned_until.get(ip, 0.0) > now:
            self._banned_until[ip] = now + self.ban_seconds
            return False
        hits = self._hits.setdefault(ip, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            hits.clear()
            self._banned_until[ip] = now + self.ban_seconds
            return False
        hits.append(now)
        return True
