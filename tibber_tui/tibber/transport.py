"""The HTTP layer under ``TibberClient``: gql's aiohttp transport, and Tibber's answers → our error taxonomy.

gql's ``AIOHTTPTransport`` drops the body of a 4xx/5xx answer and trusts any JSON with ``errors`` whatever
the status; Tibber's 429 comes with a text body, its 400s carry the reason, and outages answer with HTML.
So ``TibberTransport`` reads status, headers and body itself and raises ``HttpAnswer`` for anything that
is not a 200 GraphQL answer; ``classify_http`` and ``classify_graphql_errors`` turn answers into errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportServerError
from graphql import ExecutionResult

from tibber_tui.tibber.errors import ApiBug, InvalidToken, RateLimited, TibberApiError, TransientApiError

BODY_EXCERPT = 200
"""Characters of an unexpected body kept for the error message."""

_VALIDATION_CODES = frozenset({"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "BAD_USER_INPUT"})
_VALIDATION_MARKERS = (
    "syntax error",
    "cannot query field",
    "unknown argument",
    "unknown type",
    "variable '$",
    'variable "$',
    "must have a selection",
    "is required",
    "expected type",
    "was not provided",
    "got invalid value",
)
_AUTH_MARKERS = ("unauthenticated", "invalid token", "token is invalid", "not authorized", "unauthorized", "jwt")


class HttpAnswer(TransportServerError):
    """An HTTP answer that is not a plain 200 GraphQL result.

    A ``TransportServerError`` so that gql's transport passes it through unchanged.
    """

    def __init__(self, status: int, body: str, headers: Mapping[str, str], payload: Any = None) -> None:
        super().__init__(f"HTTP {status}", status)
        self.status = status
        self.body = body
        self.headers = headers
        self.payload = payload
        """The JSON body when there was one."""


class TibberTransport(AIOHTTPTransport):
    """gql's aiohttp transport that keeps status, headers and body of every non-GraphQL answer."""

    async def _prepare_result(self, response: aiohttp.ClientResponse) -> ExecutionResult:
        self.response_headers = response.headers
        body = await response.text(errors="replace")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        is_graphql = isinstance(payload, dict) and ("data" in payload or "errors" in payload)
        if response.status != 200 or not is_graphql:
            raise HttpAnswer(response.status, body, response.headers, payload if is_graphql else None)
        return ExecutionResult(
            data=payload.get("data"), errors=payload.get("errors"), extensions=payload.get("extensions")
        )


def parse_retry_after(headers: Mapping[str, str], default: float) -> float:
    """``Retry-After`` in seconds when present and numeric, else ``default``."""
    raw = headers.get("Retry-After")
    if raw is not None:
        try:
            return max(float(raw), 0.0)
        except ValueError:
            pass
    return default


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= BODY_EXCERPT else flat[:BODY_EXCERPT] + "…"


def _messages(errors: Sequence[Any]) -> list[str]:
    return [str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors]


def _codes(errors: Sequence[Any]) -> set[str]:
    codes: set[str] = set()
    for error in errors:
        if isinstance(error, Mapping):
            extensions = error.get("extensions")
            if isinstance(extensions, Mapping) and isinstance(extensions.get("code"), str):
                codes.add(extensions["code"])
    return codes


def classify_graphql_errors(errors: Sequence[Any], *, has_data: bool, who: str) -> TibberApiError | None:
    """The error for a GraphQL ``errors`` list, or None when the data beside it can still be used."""
    codes = _codes(errors)
    messages = _messages(errors)
    text = "; ".join(messages)
    lowered = text.lower()
    if "UNAUTHENTICATED" in codes or any(marker in lowered for marker in _AUTH_MARKERS):
        return InvalidToken(f"{who}: Tibber rejected the token ({_excerpt(text)}); check or replace the token")
    if codes & _VALIDATION_CODES or any(marker in lowered for marker in _VALIDATION_MARKERS):
        return ApiBug(f"{who}: Tibber refused our query as invalid ({_excerpt(text)}); this is a tibber-tui bug")
    if has_data:
        return None
    return TransientApiError(f"{who}: Tibber answered with an error ({_excerpt(text)})")


def classify_http(answer: HttpAnswer, *, who: str, rate_limit_cooldown: float) -> TibberApiError:
    """The error for a non-200 or non-GraphQL HTTP answer."""
    status = answer.status
    errors = answer.payload.get("errors") if isinstance(answer.payload, dict) else None
    if status == 429:
        retry_after = parse_retry_after(answer.headers, rate_limit_cooldown)
        return RateLimited(
            f"{who}: Tibber's rate limit was hit (HTTP 429: {_excerpt(answer.body)}); pausing {retry_after:.0f} s",
            retry_after,
        )
    if status >= 500 or status == 408:
        return TransientApiError(f"{who}: Tibber API unavailable (HTTP {status}: {_excerpt(answer.body)})")
    if status == 200:
        return TransientApiError(f"{who}: Tibber answered without a GraphQL result ({_excerpt(answer.body)})")
    lowered = answer.body.lower()
    if status == 401 or (status in (400, 403) and any(marker in lowered for marker in _AUTH_MARKERS)):
        return InvalidToken(f"{who}: Tibber rejected the token (HTTP {status}); check or replace the token")
    if "user agent" in lowered or "user-agent" in lowered:
        return ApiBug(f"{who}: Tibber refused our User-Agent (HTTP {status}: {_excerpt(answer.body)})")
    if errors:
        classified = classify_graphql_errors(errors, has_data=False, who=who)
        if isinstance(classified, InvalidToken | ApiBug):
            return classified
    return ApiBug(f"{who}: Tibber refused the request (HTTP {status}: {_excerpt(answer.body)})")
