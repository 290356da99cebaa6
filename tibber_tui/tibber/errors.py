"""The Tibber API's failures as a small taxonomy the collector can act on.

Every class is a ``TibberTuiError`` (its message is meant for the user). Messages are built by the
client with the token masked; never put a whole token into one.
"""

from __future__ import annotations

from tibber_tui.errors import TibberTuiError


class TibberApiError(TibberTuiError):
    """Anything that went wrong talking to the Tibber API."""


class InvalidToken(TibberApiError):
    """The token was rejected (HTTP 200 ``UNAUTHENTICATED``, HTTP 400/401 about auth, websocket close 4403).

    Never retried: retrying a rejected token only gets the IP banned.
    """


class RateLimited(TibberApiError):
    """Tibber refused because of its rate limits (HTTP 429, websocket close 4429); wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientApiError(TibberApiError):
    """A failure that may pass: timeout, 5xx, an HTML body, a connection reset. Retried with jittered backoff."""


class ApiBug(TibberApiError):
    """The API refused what we sent (GraphQL validation, syntax, a blocked User-Agent): our bug, never retried."""


class MalformedNode(TibberApiError):
    """One node of an answer could not be read; the rest of its page is kept.

    ``field`` is the offending field (``from``, ``consumption``, ...), ``path`` where the node sits in the
    answer (``viewer.home[<id>].consumption.nodes[3]``).
    """

    def __init__(self, field: str, path: str, reason: str) -> None:
        super().__init__(f"malformed node at {path}: field {field!r} {reason}")
        self.field = field
        self.path = path
        self.reason = reason
