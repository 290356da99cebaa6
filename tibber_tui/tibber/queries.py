"""Every GraphQL document the client sends, as constants or built from constants.

Several homes of one token go into ONE request with aliases (``h0: home(id: $h0)``, ``h1: ...``): the
per-IP request limit is what runs out, not query size. Values always travel as variables, never pasted
into the text. ``tests/unit/test_tibber_queries.py`` validates every document against the real schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HOMES_QUERY = """
query Homes {
  viewer {
    name
    websocketSubscriptionUrl
    homes {
      id
      appNickname
      timeZone
      address { address1 postalCode city country latitude longitude }
      features { realTimeConsumptionEnabled }
      meteringPointData { productionEan }
      currentSubscription { status }
    }
  }
}
""".strip()

PRICE_FIELDS = "total energy tax startsAt currency level"

CONSUMPTION_NODE_FIELDS = "from to consumption consumptionUnit cost unitPrice unitPriceVAT currency"
PRODUCTION_NODE_FIELDS = "from to production productionUnit profit unitPrice unitPriceVAT currency"
PAGE_INFO_FIELDS = "startCursor endCursor hasPreviousPage hasNextPage count"

LIVE_FIELDS = (
    "timestamp power powerProduction accumulatedConsumption accumulatedProduction "
    "accumulatedConsumptionLastHour accumulatedProductionLastHour accumulatedCost accumulatedReward currency "
    "minPower averagePower maxPower minPowerProduction maxPowerProduction lastMeterConsumption "
    "lastMeterProduction powerReactive powerProductionReactive powerFactor voltagePhase1 voltagePhase2 "
    "voltagePhase3 currentL1 currentL2 currentL3 signalStrength"
)

LIVE_SUBSCRIPTION = f"subscription Live($homeId: ID!) {{ liveMeasurement(homeId: $homeId) {{ {LIVE_FIELDS} }} }}"
"""One subscription per home on the token's single websocket."""

HISTORY_CAP = 744
"""Hourly consumption/production nodes per request; Tibber silently truncates larger ``last``."""
PRICE_RANGE_CAPS = {"QUARTER_HOURLY": 672, "HOURLY": 744, "DAILY": 31}
"""``priceInfoRange`` nodes per request by resolution."""


def home_alias(index: int) -> str:
    """The alias (and variable name) of the ``index``-th home of a batched query."""
    return f"h{index}"


def prices_query(home_count: int) -> str:
    """Today's, tomorrow's and the current 15-minute prices of ``home_count`` homes (variables ``h0``...)."""
    parts = [
        f"{home_alias(i)}: home(id: ${home_alias(i)}) {{ id currentSubscription {{ "
        f"priceInfo(resolution: QUARTER_HOURLY) {{ current {{ {PRICE_FIELDS} }} today {{ {PRICE_FIELDS} }} "
        f"tomorrow {{ {PRICE_FIELDS} }} }} }} }}"
        for i in range(home_count)
    ]
    return _viewer_query("Prices", [f"${home_alias(i)}: ID!" for i in range(home_count)], parts)


def price_range_query(home_count: int, *, with_before: bool) -> str:
    """One ``priceInfoRange`` page (backwards, ``last`` + optional ``before``) for each of ``home_count`` homes."""
    variables = ["$resolution: PriceInfoRangeResolution!", "$last: Int!"]
    if with_before:
        variables.append("$before: String")
    before = ", before: $before" if with_before else ""
    variables += [f"${home_alias(i)}: ID!" for i in range(home_count)]
    parts = [
        f"{home_alias(i)}: home(id: ${home_alias(i)}) {{ id currentSubscription {{ "
        f"priceInfoRange(resolution: $resolution, last: $last{before}) {{ "
        f"pageInfo {{ startCursor hasPreviousPage count resolution currency }} nodes {{ {PRICE_FIELDS} }} }} }} }}"
        for i in range(home_count)
    ]
    return _viewer_query("PriceRange", variables, parts)


@dataclass(frozen=True, slots=True)
class HistoryShape:
    """What one home asks for in a batched history query."""

    with_before: bool
    production: bool


def history_query(shapes: Sequence[HistoryShape]) -> str:
    """Hourly consumption (and production where asked) of several homes, one page each, in one request.

    Home ``i`` uses variables ``$h<i>`` (id), ``$l<i>`` (last) and, when it has a cursor, ``$b<i>`` (before).
    Both series of a home share ``last``/``before`` so they cover the same hours.
    """
    variables: list[str] = []
    parts: list[str] = []
    for i, shape in enumerate(shapes):
        alias = home_alias(i)
        variables += [f"${alias}: ID!", f"$l{i}: Int!"]
        args = f"resolution: HOURLY, last: $l{i}, filterEmptyNodes: false"
        if shape.with_before:
            variables.append(f"$b{i}: String")
            args += f", before: $b{i}"
        body = f"consumption({args}) {{ pageInfo {{ {PAGE_INFO_FIELDS} }} nodes {{ {CONSUMPTION_NODE_FIELDS} }} }}"
        if shape.production:
            body += f" production({args}) {{ pageInfo {{ {PAGE_INFO_FIELDS} }} nodes {{ {PRODUCTION_NODE_FIELDS} }} }}"
        parts.append(f"{alias}: home(id: ${alias}) {{ id {body} }}")
    return _viewer_query("History", variables, parts)


def _viewer_query(name: str, variables: Sequence[str], home_parts: Sequence[str]) -> str:
    declared = f"({', '.join(variables)})" if variables else ""
    return f"query {name}{declared} {{ viewer {{ {' '.join(home_parts)} }} }}"
