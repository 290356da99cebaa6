"""``TibberClient``: the GraphQL operations of one token, over one aiohttp session (gql's transport).

Every attempt takes a slot from the process-wide ``RateBudget`` first. Transient failures are retried
with jittered backoff; a 429 penalizes the whole budget (the ban is per IP, not per token) and raises
``RateLimited``; a rejected token or a refused query raises at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from gql import GraphQLRequest
from gql.transport.exceptions import TransportError

from tibber_tui import __version__
from tibber_tui.secrets import mask_token, redact
from tibber_tui.tibber import queries
from tibber_tui.tibber.backoff import retry_backoff
from tibber_tui.tibber.budget import Priority, RateBudget
from tibber_tui.tibber.errors import MalformedNode, RateLimited, TibberApiError, TransientApiError
from tibber_tui.tibber.models import (
    HistoryPage,
    HistoryRequest,
    PriceDays,
    PricePage,
    PriceResolution,
    Viewer,
)
from tibber_tui.tibber.parse import (
    encode_cursor,
    parse_connection,
    parse_consumption,
    parse_list,
    parse_price,
    parse_production,
    parse_viewer,
)
from tibber_tui.tibber.transport import HttpAnswer, TibberTransport, classify_graphql_errors, classify_http

__all__ = [
    "HistoryPage",
    "HistoryRequest",
    "PriceDays",
    "PricePage",
    "TibberClient",
    "default_user_agent",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_HOMES_PER_REQUEST = 50
"""Homes batched into one request; more are split, since Tibber times out on very large queries (FACTS §6)."""
DEFAULT_RATE_LIMIT_COOLDOWN = 600.0
"""Seconds to pause after a 429 without ``Retry-After``: Tibber's ban lasts about 10 minutes."""


def default_user_agent() -> str:
    """``tibber-tui/<version> python-aiohttp/<version>``: Tibber requires a UA unique to the app (FACTS §1)."""
    return f"tibber-tui/{__version__} python-aiohttp/{aiohttp.__version__}"


class TibberClient:
    """The Tibber API as seen by one token. Create one per token; share one ``RateBudget`` between all."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        budget: RateBudget,
        user_agent: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry_delay: Callable[[int], float] = retry_backoff,
        rate_limit_cooldown: float = DEFAULT_RATE_LIMIT_COOLDOWN,
    ) -> None:
        if not token:
            raise ValueError("a Tibber token is required")
        self.token = token
        self.api_url = api_url
        self.budget = budget
        self.user_agent = user_agent or default_user_agent()
        self.timeout = timeout
        self.max_retries = max_retries
        self.rate_limit_cooldown = rate_limit_cooldown
        self.requests_sent = 0
        """HTTP attempts made by this client (retries included)."""
        self._sleep = sleep
        self._retry_delay = retry_delay
        self._transport = TibberTransport(
            url=api_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": self.user_agent},
            client_session_args={"timeout": aiohttp.ClientTimeout(total=timeout)},
        )
        self._connect_lock = asyncio.Lock()
        self._closed = False

    @property
    def who(self) -> str:
        """How errors and logs name this client's token: masked."""
        return f"token {mask_token(self.token)}"

    # -- session --------------------------------------------------------------------------------

    async def session(self) -> aiohttp.ClientSession:
        """The client's one aiohttp session (opened on first use); ``LiveStream`` opens its websocket on it."""
        if self._closed:
            raise TransientApiError(f"{self.who}: the API client is closed")
        async with self._connect_lock:
            if self._transport.session is None:
                await self._transport.connect()
        session = self._transport.session
        assert session is not None  # connected just above
        return session

    async def close(self) -> None:
        """Close the session; the client cannot be used afterwards."""
        self._closed = True
        async with self._connect_lock:
            if self._transport.session is not None:
                await self._transport.close()

    async def __aenter__(self) -> TibberClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- operations -----------------------------------------------------------------------------

    async def viewer(self, priority: Priority = Priority.LIVE) -> Viewer:
        """The token's homes and its websocket URL."""
        data = await self.execute(queries.HOMES_QUERY, {}, priority)
        skipped: list[MalformedNode] = []
        viewer = parse_viewer(data, skipped=skipped)
        for problem in skipped:
            log.warning("%s: home left out: %s", self.who, problem)
        return viewer

    async def prices(self, home_ids: Sequence[str], priority: Priority = Priority.PRICES) -> dict[str, PriceDays]:
        """Today's, tomorrow's and the current 15-minute prices of the homes, all in one request."""
        result: dict[str, PriceDays] = {}
        for chunk in _chunks(_unique(home_ids)):
            variables = {queries.home_alias(i): home_id for i, home_id in enumerate(chunk)}
            data = await self.execute(queries.prices_query(len(chunk)), variables, priority)
            for i, home_id in enumerate(chunk):
                result[home_id] = _price_days(data, queries.home_alias(i), home_id)
        return result

    async def price_range(
        self,
        home_ids: Sequence[str],
        *,
        before: datetime | None = None,
        last: int = 672,
        priority: Priority = Priority.BACKFILL,
        resolution: PriceResolution = "QUARTER_HOURLY",
    ) -> dict[str, PricePage]:
        """One backwards page of historic prices (``priceInfoRange``) per home, all in one request."""
        last = max(1, min(last, queries.PRICE_RANGE_CAPS[resolution]))
        result: dict[str, PricePage] = {}
        for chunk in _chunks(_unique(home_ids)):
            variables: dict[str, Any] = {queries.home_alias(i): home_id for i, home_id in enumerate(chunk)}
            variables |= {"resolution": resolution, "last": last}
            if before is not None:
                variables["before"] = encode_cursor(before)
            document = queries.price_range_query(len(chunk), with_before=before is not None)
            data = await self.execute(document, variables, priority)
            for i, home_id in enumerate(chunk):
                result[home_id] = _price_page(data, queries.home_alias(i), home_id, resolution)
        return result

    async def history(
        self, requests: Sequence[HistoryRequest], priority: Priority = Priority.BACKFILL
    ) -> dict[str, HistoryPage]:
        """One backwards page of hourly consumption (and production where asked) per home, in one request."""
        if len({r.home_id for r in requests}) != len(requests):
            raise ValueError("history() takes at most one request per home")
        result: dict[str, HistoryPage] = {}
        for chunk in _chunks(list(requests)):
            shapes = [queries.HistoryShape(r.before is not None, r.production) for r in chunk]
            variables: dict[str, Any] = {}
            for i, request in enumerate(chunk):
                variables[queries.home_alias(i)] = request.home_id
                variables[f"l{i}"] = max(1, min(request.last, queries.HISTORY_CAP))
                if request.before is not None:
                    variables[f"b{i}"] = encode_cursor(request.before)
            data = await self.execute(queries.history_query(shapes), variables, priority)
            for i, request in enumerate(chunk):
                result[request.home_id] = _history_page(data, queries.home_alias(i), request)
        return result

    # -- the request loop -----------------------------------------------------------------------

    async def execute(self, document: str, variables: Mapping[str, Any], priority: Priority) -> Any:
        """Send one GraphQL document (budget, retries, error taxonomy); returns the ``data`` object."""
        request = GraphQLRequest(document, variable_values=dict(variables) or None)
        attempt = 0
        while True:
            try:
                async with self.budget.slot(priority):
                    return await self._execute_once(request)
            except RateLimited as exc:
                self.budget.penalize(exc.retry_after)
                raise
            except TransientApiError as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise
                delay = self._retry_delay(attempt)
                log.info("%s (retry %d/%d in %.1f s)", exc, attempt, self.max_retries, delay)
                await self._sleep(delay)

    async def _execute_once(self, request: GraphQLRequest) -> Any:
        await self.session()  # opens the transport's session on first use
        self.requests_sent += 1
        try:
            result = await self._transport.execute(request)
        except HttpAnswer as answer:
            problem = classify_http(answer, who=self.who, rate_limit_cooldown=self.rate_limit_cooldown)
            raise self._masked(problem) from None
        except TimeoutError:
            raise TransientApiError(f"{self.who}: Tibber API did not answer within {self.timeout:.0f} s") from None
        except TransportError as exc:
            cause = exc.__cause__ or exc
            detail = redact(f"{type(cause).__name__}: {cause}", [self.token])
            raise TransientApiError(
                f"{self.who}: could not reach the Tibber API at {self.api_url} ({detail})"
            ) from None
        if result.errors:
            refusal = classify_graphql_errors(result.errors, has_data=result.data is not None, who=self.who)
            if refusal is not None:
                raise self._masked(refusal)
            log.warning("%s: partial answer: %s", self.who, redact(str(result.errors)[:300], [self.token]))
        if not isinstance(result.data, dict):
            raise TransientApiError(f"{self.who}: Tibber answered without data")
        return result.data

    def _masked(self, error: TibberApiError) -> TibberApiError:
        """The error with the token masked in its message (an echoing server must not leak it)."""
        text = str(error)
        masked = redact(text, [self.token])
        if masked != text:
            error.args = (masked,)
        return error


# -- answer → pages -------------------------------------------------------------------------------


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[i : i + MAX_HOMES_PER_REQUEST] for i in range(0, len(items), MAX_HOMES_PER_REQUEST)]


def _home_node(data: Any, alias: str, home_id: str, errors: list[MalformedNode]) -> dict[str, Any] | None:
    viewer = data.get("viewer") if isinstance(data, dict) else None
    home = viewer.get(alias) if isinstance(viewer, dict) else None
    if not isinstance(home, dict):
        errors.append(MalformedNode("home", f"viewer.home[{home_id}]", "is missing from the answer"))
        return None
    return home


def _price_days(data: Any, alias: str, home_id: str) -> PriceDays:
    errors: list[MalformedNode] = []
    home = _home_node(data, alias, home_id, errors)
    subscription = home.get("currentSubscription") if home else None
    info = subscription.get("priceInfo") if isinstance(subscription, dict) else None
    if not isinstance(info, dict):  # no subscription (yet): no prices, not an error
        return PriceDays([], [], None, errors)
    path = f"viewer.home[{home_id}].currentSubscription.priceInfo"
    current = None
    if info.get("current") is not None:
        try:
            current = parse_price(info["current"], f"{path}.current")
        except MalformedNode as exc:
            errors.append(exc)
    today = parse_list(info.get("today"), f"{path}.today", parse_price, errors, "today")
    tomorrow = parse_list(info.get("tomorrow"), f"{path}.tomorrow", parse_price, errors, "tomorrow")
    return PriceDays(today, tomorrow, current, errors)


def _price_page(data: Any, alias: str, home_id: str, resolution: PriceResolution) -> PricePage:
    errors: list[MalformedNode] = []
    home = _home_node(data, alias, home_id, errors)
    subscription = home.get("currentSubscription") if home else None
    raw = subscription.get("priceInfoRange") if isinstance(subscription, dict) else None
    path = f"viewer.home[{home_id}].currentSubscription.priceInfoRange"
    page = parse_connection(raw, path, lambda node, p: parse_price(node, p, resolution), errors)
    prices = sorted(page.nodes, key=lambda price: price.starts_at)
    return PricePage(prices, page.start_cursor, page.has_previous, page.start, errors)


def _history_page(data: Any, alias: str, request: HistoryRequest) -> HistoryPage:
    errors: list[MalformedNode] = []
    home = _home_node(data, alias, request.home_id, errors) or {}
    path = f"viewer.home[{request.home_id}]"
    consumption = parse_connection(home.get("consumption"), f"{path}.consumption", parse_consumption, errors)
    production = None
    if request.production:
        production = parse_connection(home.get("production"), f"{path}.production", parse_production, errors)
    return HistoryPage(
        home_id=request.home_id,
        consumption=sorted(consumption.nodes, key=lambda node: node.from_),
        production=sorted(production.nodes, key=lambda node: node.from_) if production else None,
        consumption_start=consumption.start,
        has_previous=consumption.has_previous,
        errors=errors,
        production_start=production.start if production else None,
        production_has_previous=production.has_previous if production else False,
    )
