"""Answers of the Tibber API → typed models, validated.

Rules: timestamps must carry an offset and become aware datetimes; ``null`` stays ``None`` (never 0);
unknown enum values are kept as the API sent them; a node that cannot be read raises (or, inside a
page, is collected as) ``MalformedNode`` naming the field and path, and the rest of the page is kept.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tibber_tui.tibber.errors import MalformedNode
from tibber_tui.tibber.models import (
    Address,
    Consumption,
    Home,
    LiveMeasurement,
    Price,
    PriceResolution,
    Production,
    Viewer,
)

T = TypeVar("T")

# -- scalars ------------------------------------------------------------------------------------


def parse_timestamp(value: Any, field: str, path: str) -> datetime:
    """An ISO timestamp with offset (``2025-01-01T00:00:00.000+01:00``) → aware datetime."""
    if not isinstance(value, str):
        raise MalformedNode(field, path, "is missing" if value is None else f"is not a timestamp string: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedNode(field, path, f"is not an ISO timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise MalformedNode(field, path, f"has no UTC offset: {value[:40]!r}")
    return parsed


def optional_float(value: Any, field: str, path: str) -> float | None:
    """A JSON number or null → float or None; anything else is malformed (a string is not a number)."""
    if value is None:
        return None
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    raise MalformedNode(field, path, f"is not a number: {value!r}"[:120])


def optional_int(value: Any, field: str, path: str) -> int | None:
    if value is None:
        return None
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise MalformedNode(field, path, f"is not an integer: {value!r}"[:120])


def optional_str(value: Any, field: str, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise MalformedNode(field, path, f"is not a string: {value!r}"[:120])


def _object(value: Any, field: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedNode(field, path, "is missing" if value is None else "is not an object")
    return value


def _optional_object(value: Any, field: str, path: str) -> Mapping[str, Any]:
    """A nullable object; null reads as an empty object (every field in it None)."""
    return {} if value is None else _object(value, field, path)


# -- cursors ------------------------------------------------------------------------------------


def encode_cursor(instant: datetime) -> str:
    """A ``before``/``after`` cursor: base64 of the ISO timestamp (Tibber staff: cursors may be built by hand)."""
    if instant.tzinfo is None:
        raise ValueError("cursor instants must be timezone-aware")
    return base64.b64encode(instant.isoformat(timespec="milliseconds").encode()).decode()


def decode_cursor(cursor: str | None) -> datetime | None:
    """The instant inside a cursor, or None when it is absent or not a base64 ISO timestamp."""
    if not cursor:
        return None
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        parsed = datetime.fromisoformat(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


# -- homes --------------------------------------------------------------------------------------


def parse_viewer(data: Any, *, skipped: list[MalformedNode] | None = None) -> Viewer:
    """``{"viewer": {...}}`` of ``HOMES_QUERY`` → ``Viewer``; unreadable homes are left out (into ``skipped``)."""
    viewer = _object(_object(data, "data", "data").get("viewer"), "viewer", "viewer")
    homes: list[Home] = []
    raw_homes = viewer.get("homes")
    if not isinstance(raw_homes, list):
        raise MalformedNode("homes", "viewer.homes", "is not a list")
    for index, raw in enumerate(raw_homes):
        try:
            homes.append(parse_home(raw, f"viewer.homes[{index}]"))
        except MalformedNode as exc:
            if skipped is None:
                raise
            skipped.append(exc)
    return Viewer(
        websocket_url=optional_str(viewer.get("websocketSubscriptionUrl"), "websocketSubscriptionUrl", "viewer") or "",
        homes=tuple(homes),
        name=optional_str(viewer.get("name"), "name", "viewer"),
    )


def parse_home(raw: Any, path: str) -> Home:
    """A home node. ``has_production`` = the home has a production metering point (``productionEan`` not null)."""
    node = _object(raw, "home", path)
    home_id = node.get("id")
    if not isinstance(home_id, str) or not home_id:
        raise MalformedNode("id", path, "is missing")
    time_zone = node.get("timeZone")
    if not isinstance(time_zone, str) or not time_zone:
        raise MalformedNode("timeZone", path, "is missing")
    address = _optional_object(node.get("address"), "address", path)
    features = _optional_object(node.get("features"), "features", path)
    metering = _optional_object(node.get("meteringPointData"), "meteringPointData", path)
    subscription = _optional_object(node.get("currentSubscription"), "currentSubscription", path)
    apath = f"{path}.address"
    return Home(
        id=home_id,
        nickname=optional_str(node.get("appNickname"), "appNickname", path),
        time_zone=time_zone,
        address=Address(
            address1=optional_str(address.get("address1"), "address1", apath),
            postal_code=optional_str(address.get("postalCode"), "postalCode", apath),
            city=optional_str(address.get("city"), "city", apath),
            country=optional_str(address.get("country"), "country", apath),
            latitude=optional_str(address.get("latitude"), "latitude", apath),
            longitude=optional_str(address.get("longitude"), "longitude", apath),
        ),
        realtime_enabled=features.get("realTimeConsumptionEnabled") is True,
        has_production=bool(optional_str(metering.get("productionEan"), "productionEan", path)),
        subscription_status=optional_str(subscription.get("status"), "status", f"{path}.currentSubscription"),
    )


# -- prices -------------------------------------------------------------------------------------


def parse_price(raw: Any, path: str, resolution: PriceResolution = "QUARTER_HOURLY") -> Price:
    node = _object(raw, "price", path)
    level = node.get("level")
    return Price(
        starts_at=parse_timestamp(node.get("startsAt"), "startsAt", path),
        total=optional_float(node.get("total"), "total", path),
        energy=optional_float(node.get("energy"), "energy", path),
        tax=optional_float(node.get("tax"), "tax", path),
        currency=optional_str(node.get("currency"), "currency", path),
        # Unknown levels (Tibber may add some) are kept as sent; only a non-string is malformed.
        level=optional_str(level, "level", path),
        resolution=resolution,
    )


def parse_list(
    raw: Any, path: str, parse_node: Callable[[Any, str], T], errors: list[MalformedNode], field: str = "nodes"
) -> list[T]:
    """Parse every node of a list; a bad node goes to ``errors`` and the others are kept."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(MalformedNode(field, path, "is not a list"))
        return []
    parsed: list[T] = []
    for index, node in enumerate(raw):
        try:
            parsed.append(parse_node(node, f"{path}[{index}]"))
        except MalformedNode as exc:
            errors.append(exc)
    return parsed


# -- history ------------------------------------------------------------------------------------


def parse_consumption(raw: Any, path: str) -> Consumption:
    node = _object(raw, "node", path)
    return Consumption(
        from_=parse_timestamp(node.get("from"), "from", path),
        to=parse_timestamp(node.get("to"), "to", path),
        consumption=optional_float(node.get("consumption"), "consumption", path),
        unit=optional_str(node.get("consumptionUnit"), "consumptionUnit", path),
        cost=optional_float(node.get("cost"), "cost", path),
        unit_price=optional_float(node.get("unitPrice"), "unitPrice", path),
        unit_price_vat=optional_float(node.get("unitPriceVAT"), "unitPriceVAT", path),
        currency=optional_str(node.get("currency"), "currency", path),
    )


def parse_production(raw: Any, path: str) -> Production:
    node = _object(raw, "node", path)
    return Production(
        from_=parse_timestamp(node.get("from"), "from", path),
        to=parse_timestamp(node.get("to"), "to", path),
        production=optional_float(node.get("production"), "production", path),
        unit=optional_str(node.get("productionUnit"), "productionUnit", path),
        profit=optional_float(node.get("profit"), "profit", path),
        unit_price=optional_float(node.get("unitPrice"), "unitPrice", path),
        unit_price_vat=optional_float(node.get("unitPriceVAT"), "unitPriceVAT", path),
        currency=optional_str(node.get("currency"), "currency", path),
    )


@dataclass(frozen=True, slots=True)
class Connection(Generic[T]):
    """One page of a connection: nodes oldest first, where it starts, whether older pages exist."""

    nodes: list[T]
    start_cursor: str | None
    start: datetime | None
    has_previous: bool


def parse_connection(
    raw: Any, path: str, parse_node: Callable[[Any, str], T], errors: list[MalformedNode]
) -> Connection[T]:
    """A ``{pageInfo, nodes}`` connection. A null connection is an empty page without older data."""
    if raw is None:
        return Connection([], None, None, False)
    conn = _object(raw, "connection", path)
    page_info = _optional_object(conn.get("pageInfo"), "pageInfo", path)
    nodes = parse_list(conn.get("nodes"), f"{path}.nodes", parse_node, errors)
    start_cursor = optional_str(page_info.get("startCursor"), "startCursor", f"{path}.pageInfo")
    start = decode_cursor(start_cursor)
    if start is None and nodes:
        start = min(_node_start(node) for node in nodes)
    has_previous = page_info.get("hasPreviousPage")
    # hasPreviousPage is nullable: without it, a non-empty page means "try further back".
    previous = has_previous if isinstance(has_previous, bool) else bool(conn.get("nodes"))
    return Connection(nodes, start_cursor, start, previous)


def _node_start(node: object) -> datetime:
    if isinstance(node, Consumption | Production):
        return node.from_
    if isinstance(node, Price):
        return node.starts_at
    raise TypeError(f"no start time on {type(node).__name__}")


# -- live ---------------------------------------------------------------------------------------

_LIVE_FLOAT_FIELDS: tuple[tuple[str, str], ...] = (
    ("power", "power"),
    ("power_production", "powerProduction"),
    ("accumulated_consumption", "accumulatedConsumption"),
    ("accumulated_production", "accumulatedProduction"),
    ("accumulated_consumption_last_hour", "accumulatedConsumptionLastHour"),
    ("accumulated_production_last_hour", "accumulatedProductionLastHour"),
    ("accumulated_cost", "accumulatedCost"),
    ("accumulated_reward", "accumulatedReward"),
    ("min_power", "minPower"),
    ("average_power", "averagePower"),
    ("max_power", "maxPower"),
    ("min_power_production", "minPowerProduction"),
    ("max_power_production", "maxPowerProduction"),
    ("last_meter_consumption", "lastMeterConsumption"),
    ("last_meter_production", "lastMeterProduction"),
    ("power_reactive", "powerReactive"),
    ("power_production_reactive", "powerProductionReactive"),
    ("power_factor", "powerFactor"),
    ("voltage_phase1", "voltagePhase1"),
    ("voltage_phase2", "voltagePhase2"),
    ("voltage_phase3", "voltagePhase3"),
    ("current_l1", "currentL1"),
    ("current_l2", "currentL2"),
    ("current_l3", "currentL3"),
)


def parse_live(home_id: str, raw: Any, path: str = "liveMeasurement") -> LiveMeasurement:
    """One ``liveMeasurement`` object → ``LiveMeasurement``; a field missing from the frame stays None.

    This sits on the hot path of every live frame: plain dict lookups, no per-field function calls for
    the common case (a float or null).
    """
    if type(raw) is not dict:
        raise MalformedNode("liveMeasurement", path, "is missing" if raw is None else "is not an object")
    values: dict[str, Any] = {}
    get = raw.get
    for name, key in _LIVE_FLOAT_FIELDS:
        value = get(key)
        kind = type(value)
        if value is None or kind is float:
            values[name] = value
        elif kind is int:
            values[name] = float(value)
        else:
            raise MalformedNode(key, path, f"is not a number: {value!r}"[:120])
    return LiveMeasurement(
        home_id=home_id,
        timestamp=parse_timestamp(get("timestamp"), "timestamp", path),
        currency=optional_str(get("currency"), "currency", path),
        signal_strength=optional_int(get("signalStrength"), "signalStrength", path),
        **values,
    )
