"""What the simulator received, for tests to assert on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tibber_tui.simulator.sockets import LiveSocket


@dataclass
class SimStats:
    """Counters per token. Requests without a (known) token are counted under their token text, ``""`` if none."""

    requests: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    """HTTP requests per token, rejected ones included."""
    ws_connects: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Websocket upgrade attempts per token (token from the Authorization header, else from connection_init)."""
    closed: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """Close codes of finished sockets per token; 1000 = the client closed cleanly, 1006 = dropped."""
    queries: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    """Query documents received per token (HTTP and websocket subscribe)."""
    user_agents: list[str] = field(default_factory=list)
    """User-Agent of every HTTP request and upgrade ("" when missing)."""
    subscription_log: defaultdict[str, list[tuple[str, str, str]]] = field(default_factory=lambda: defaultdict(list))
    """Per token, in order: ``(what, subscription id, home id)``; ``what`` is ``"subscribe"`` (accepted),
    ``"complete"`` (the client ended an open subscription), ``"server_complete"`` or ``"next_error"`` (faults)."""
    rate_limited: int = 0
    """HTTP requests and upgrades answered with 429."""
    sockets: set[LiveSocket] = field(default_factory=set)
    """Open, acknowledged sockets."""

    def open_sockets(self, token: str) -> int:
        """Acknowledged sockets of ``token`` open right now."""
        return sum(1 for s in self.sockets if s.token == token)

    def subscriptions(self, token: str) -> set[str]:
        """Home ids with an active subscription on any open socket of ``token``."""
        return {home.id for s in self.sockets if s.token == token for home in s.subscribed_homes()}

    def reset(self) -> None:
        """Forget the counters (open sockets stay)."""
        self.requests.clear()
        self.ws_connects.clear()
        self.closed.clear()
        self.queries.clear()
        self.subscription_log.clear()
        self.user_agents.clear()
        self.rate_limited = 0
