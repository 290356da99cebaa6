"""Run-time fault switches, callable from tests and over HTTP (``POST /_control {"fault": name, ...}``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tibber_tui.simulator.limits import RateLimiter
from tibber_tui.simulator.stats import SimStats

NEXT_ERROR_MESSAGE = "unable to start stream api:pulse for device {home_id}"
"""What Tibber says inside a ``next`` when a home's stream cannot start (evcc #19399, #21482)."""

HTML_BODY = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class HttpFault:
    """An answer that replaces the real one."""

    status: int
    content_type: str
    body: str


class Faults:
    """Switches that make the simulator misbehave the way Tibber sometimes does."""

    CONTROL_NAMES = (
        "drop_sockets", "stall", "resume", "complete", "next_error", "slow", "http_errors", "html_body",
        "malformed_node", "rate_limit", "reset",
    )  # fmt: skip

    def __init__(self, stats: SimStats, limiter: RateLimiter, monotonic: Callable[[], float]) -> None:
        self._stats = stats
        self._limiter = limiter
        self._monotonic = monotonic
        self._defaults = (limiter.limit, limiter.window, limiter.ban_seconds)
        self.slow_seconds = 0.0
        self._http: list[HttpFault] = []
        self._malformed: dict[str, list[Any]] = {}
        # (token, home id) -> monotonic end (inf = until resumed); None in the key = every token / every home
        self._stalls: dict[tuple[str | None, str | None], float] = {}

    # --- websocket faults ---------------------------------------------------------------------------

    def drop_sockets(self, token: str | None = None) -> int:
        """Cut the TCP connection of every open socket (of ``token``) without a close frame; returns how many."""
        victims = [s for s in list(self._stats.sockets) if token is None or s.token == token]
        for sock in victims:
            sock.drop()
        return len(victims)

    def stall(self, token: str | None = None, seconds: float | None = None, home_id: str | None = None) -> None:
        """No frames for ``seconds`` (None = until ``resume``); sockets and subscriptions stay open.

        Whom it silences: ``token`` (None = every token), and of it only ``home_id`` if given (Tibber sometimes
        sends nothing for one home for minutes while the other homes on the same socket keep streaming).
        """
        self._stalls[(token, home_id)] = float("inf") if seconds is None else self._monotonic() + seconds

    def resume(self, token: str | None = None, home_id: str | None = None) -> None:
        """End the stall started with the same ``token`` and ``home_id``."""
        self._stalls.pop((token, home_id), None)

    def is_stalled(self, token: str, home_id: str | None = None) -> bool:
        """True while ``token`` (or, with ``home_id``, that home of it) gets no frames."""
        if not self._stalls:
            return False
        now = self._monotonic()
        keys: tuple[tuple[str | None, str | None], ...] = ((None, None), (token, None))
        if home_id is not None:
            keys += ((None, home_id), (token, home_id))
        return any(self._stalls.get(key, 0.0) > now for key in keys)

    def complete(self, token: str, home_id: str) -> int:
        """The server ends the live subscription(s) of ``home_id`` on ``token``'s sockets; returns how many."""
        return sum(s.server_complete(home_id) for s in list(self._stats.sockets) if s.token == token)

    def next_error(self, token: str, home_id: str, message: str | None = None) -> int:
        """Tibber's failed stream: one ``next`` carrying ``payload.errors`` for the subscription(s) of ``home_id``.

        The server keeps such a subscription open, but silent, until the client sends ``complete`` for it
        (graphql-transport-ws: errors inside ``next`` do not end the operation). Returns how many were hit.
        """
        text = NEXT_ERROR_MESSAGE.format(home_id=home_id) if message is None else message
        return sum(s.server_next_error(home_id, text) for s in list(self._stats.sockets) if s.token == token)

    # --- HTTP faults --------------------------------------------------------------------------------

    def slow(self, seconds: float) -> None:
        """Delay every HTTP answer by ``seconds`` (0 = off)."""
        self.slow_seconds = max(0.0, seconds)

    def http_errors(self, count: int, status: int = 503) -> None:
        """The next ``count`` HTTP requests get ``status`` with a JSON error body."""
        body = '{"errors":[{"message":"Service Unavailable"}]}'
        self._http.extend(HttpFault(status, "application/json", body) for _ in range(count))

    def html_body(self, count: int, status: int = 200) -> None:
        """The next ``count`` HTTP requests get an HTML page instead of JSON (as during outages)."""
        self._http.extend(HttpFault(status, "text/html", HTML_BODY) for _ in range(count))

    def take_http_fault(self) -> HttpFault | None:
        return self._http.pop(0) if self._http else None

    def malformed_node(self, home_id: str, field: str = "from", count: int = 1) -> None:
        """The next ``count`` answers with history of ``home_id`` carry one node whose ``field`` is bad."""
        self._malformed[home_id] = [field, count]

    def take_malformed(self, home_id: str) -> str | None:
        """The field to break in this answer for ``home_id`` (counts one answer), or None."""
        entry = self._malformed.get(home_id)
        if entry is None:
            return None
        entry[1] -= 1
        if entry[1] <= 0:
            del self._malformed[home_id]
        return str(entry[0])

    # --- limits ---------------------------------------------------------------------------------------

    def rate_limit(self, limit: int | None, window: float = 300.0, ban: float = 600.0) -> None:
        """Change the per-IP limit (None = off), its window and the ban length; clears current counts and bans."""
        self._limiter.configure(limit, window, ban)
        self._limiter.reset()

    def reset(self) -> None:
        """Switch every fault off, restore the configured rate limit and lift bans."""
        self.slow_seconds = 0.0
        self._http.clear()
        self._malformed.clear()
        self._stalls.clear()
        self._limiter.configure(*self._defaults)
        self._limiter.reset()

    def apply(self, command: dict[str, Any]) -> Any:
        """Run ``{"fault": name, **arguments}`` (the control endpoint)."""
        args = dict(command)
        name = args.pop("fault", None)
        if name not in self.CONTROL_NAMES:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(self.CONTROL_NAMES)}")
        result = getattr(self, name)(**args)
        return result
