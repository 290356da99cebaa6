"""Executes GraphQL queries against the simulator's own schema (``schema.graphql``) with graphql-core.

Aliases, variables and fragments work because graphql-core does the execution; the resolvers below only
hand it plain dicts built from ``SimData``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)

from tibber_tui.simulator.data import HOUR, QUARTER, SimData, day_bounds, local_iso, zone
from tibber_tui.simulator.faults import Faults
from tibber_tui.simulator.model import SimHome, stable_int
from tibber_tui.simulator.paging import encode_cursor, select_page

Info = GraphQLResolveInfo[Any]
HISTORY_CAP = 744
PRICE_CAPS = {"QUARTER_HOURLY": 672, "HOURLY": 744, "DAILY": 31}
_BAD_VALUES = {"from": "not-a-timestamp", "to": "not-a-timestamp", "startsAt": "not-a-timestamp"}


def schema_sdl() -> str:
    """The simulator's schema text (package data)."""
    return resources.files("tibber_tui.simulator").joinpath("schema.graphql").read_text(encoding="utf-8")


@dataclass
class RequestContext:
    """Everything a resolver needs for one request of one token."""

    data: SimData
    faults: Faults
    homes: list[SimHome]
    ws_url: str
    now: float
    corrupt: list[tuple[list[str | int], str]] = field(default_factory=list)
    corrupted_homes: dict[str, str] = field(default_factory=dict)


# --- plain objects --------------------------------------------------------------------------------------


def _home_dict(home: SimHome) -> dict[str, Any]:
    address = {
        "address1": home.address1,
        "address2": None,
        "address3": None,
        "city": home.city,
        "postalCode": home.postal_code,
        "country": home.country,
        "latitude": None,
        "longitude": None,
    }
    owner = {"id": f"owner-{home.id}", "firstName": "Sim", "isCompany": False, "name": "Sim Owner",
             "middleName": None, "lastName": "Owner", "organizationNo": None, "language": "en-US",
             "contactInfo": {"email": "owner@example.invalid", "mobile": None}, "address": address}  # fmt: skip
    subscription = {"id": f"sub-{home.id}", "subscriber": owner, "validFrom": "2020-01-01T00:00:00.000+01:00",
                    "validTo": None, "status": "running", "_home": home}  # fmt: skip
    return {
        "_home": home,
        "id": home.id,
        "timeZone": home.time_zone,
        "appNickname": home.nickname,
        "appAvatar": "FLOORHOUSE1",
        "size": round(60 * home.size),
        "type": "HOUSE" if home.size >= 1 else "APARTMENT",
        "numberOfResidents": 1 + round(2 * home.size),
        "primaryHeatingSource": "ELECTRICITY",
        "hasVentilationSystem": False,
        "mainFuseSize": 25,
        "address": address,
        "owner": owner,
        "meteringPointData": {
            "consumptionEan": f"70{stable_int(home.id) % 10**16:016d}",
            "gridCompany": "Sim Grid",
            "gridAreaCode": "SIM",
            "priceAreaCode": None,
            "productionEan": f"71{stable_int(home.id, 1) % 10**16:016d}" if home.producing else None,
            "energyTaxType": None,
            "vatType": None,
            "estimatedAnnualConsumption": round(7000 * home.size),
        },
        "currentSubscription": subscription,
        "subscriptions": [subscription],
        "features": {"realTimeConsumptionEnabled": home.realtime},
    }


def _price_dict(home: SimHome, ctx: RequestContext, start: int, resolution: str) -> dict[str, Any]:
    p = ctx.data.price_slot(home.time_zone, start, resolution)
    return {
        "total": p.total,
        "energy": p.energy,
        "tax": p.tax,
        "startsAt": local_iso(start, zone(home.time_zone)),
        "currency": home.currency,
        "level": p.level,
    }


# --- resolvers --------------------------------------------------------------------------------------------


def _resolve_viewer(_root: Any, info: Info) -> dict[str, Any]:
    ctx: RequestContext = info.context
    return {
        "login": "sim@example.invalid",
        "userId": "sim-user",
        "name": "Sim User",
        "accountType": ["tibber", "customer"],
        "homes": [_home_dict(h) for h in ctx.homes],
        "websocketSubscriptionUrl": ctx.ws_url,
    }


def _resolve_home(_viewer: Any, info: Info, id: str) -> dict[str, Any]:
    ctx: RequestContext = info.context
    for home in ctx.homes:
        if home.id == id:
            return _home_dict(home)
    raise GraphQLError(f"Could not find home with id {id}")


def _mark_malformed(home: SimHome, info: Info) -> None:
    """Remember to break one node of this connection if a malformed-node fault is pending for ``home``."""
    ctx: RequestContext = info.context
    bad_field = ctx.corrupted_homes.get(home.id)
    if bad_field is None:  # the first series of this home in this answer counts the fault once
        bad_field = ctx.faults.take_malformed(home.id)
        if bad_field is not None:
            ctx.corrupted_homes[home.id] = bad_field
    if bad_field is not None:
        ctx.corrupt.append((info.path.as_list(), bad_field))


def _history(parent: dict[str, Any], info: Info, kind: str, args: dict[str, Any]) -> dict[str, Any]:
    ctx: RequestContext = info.context
    home: SimHome = parent["_home"]
    if args["resolution"] != "HOURLY":
        raise GraphQLError(f"The simulator serves {kind} with resolution HOURLY only")
    slots = range(ctx.data.history_start(home, ctx.now), ctx.data.newest_hour(ctx.now) + HOUR, HOUR)
    page = select_page(
        slots, tz=zone(home.time_zone), cap=HISTORY_CAP, first=args.get("first"), last=args.get("last"),
        before=args.get("before"), after=args.get("after"),
    )  # fmt: skip
    tz = zone(home.time_zone)
    nodes: list[dict[str, Any]] = []
    filtered = 0
    for start in page.starts:
        if kind == "consumption":
            c = ctx.data.consumption_row(home, start, ctx.now)
            node = {"consumption": c.consumption, "consumptionUnit": c.unit, "cost": c.cost, "totalCost": c.cost,
                    "unitCost": c.cost, "unitPrice": c.unit_price, "unitPriceVAT": c.unit_price_vat,
                    "currency": c.currency}  # fmt: skip
            value = c.consumption
        else:
            p = ctx.data.production_row(home, start, ctx.now)
            node = {"production": p.production, "productionUnit": p.unit, "profit": p.profit,
                    "unitPrice": p.unit_price, "unitPriceVAT": p.unit_price_vat, "currency": p.currency}  # fmt: skip
            value = p.production
        if value is None and args.get("filterEmptyNodes"):
            filtered += 1
            continue
        node["from"] = local_iso(start, tz)
        node["to"] = local_iso(start + HOUR, tz)
        nodes.append(node)
    money = "cost" if kind == "consumption" else "profit"
    total_money = round(sum(n[money] for n in nodes if n[money] is not None), 4)
    total_energy = round(sum(n[kind] for n in nodes if n[kind] is not None), 3)
    page_info = {
        "startCursor": encode_cursor(nodes[0]["from"]) if nodes else None,
        "endCursor": encode_cursor(nodes[-1]["from"]) if nodes else None,
        "hasPreviousPage": page.has_previous,
        "hasNextPage": page.has_next,
        "count": len(nodes),
        "currency": home.currency,
        "filtered": filtered,
        "totalCost": total_money,
        "energyCost": total_money,
        "totalConsumption": total_energy,
        "totalProfit": total_money,
        "totalProduction": total_energy,
    }
    _mark_malformed(home, info)
    return {
        "pageInfo": page_info,
        "nodes": nodes,
        "edges": [{"cursor": encode_cursor(n["from"]), "node": n} for n in nodes],
    }


def _resolve_consumption(parent: dict[str, Any], info: Info, **args: Any) -> dict[str, Any]:
    return _history(parent, info, "consumption", args)


def _resolve_production(parent: dict[str, Any], info: Info, **args: Any) -> dict[str, Any]:
    return _history(parent, info, "production", args)


def _resolve_price_info(parent: dict[str, Any], info: Info, resolution: str = "HOURLY") -> Any:
    ctx: RequestContext = info.context
    home: SimHome = parent["_home"]
    tz = zone(home.time_zone)
    step = QUARTER if resolution == "QUARTER_HOURLY" else HOUR
    today = datetime.fromtimestamp(ctx.now, tz).date()
    start, end = day_bounds(today, tz)
    published_end = ctx.data.price_end(home, ctx.now)
    tomorrow_end = day_bounds(today + timedelta(days=1), tz)[1]
    current = int(ctx.now // step) * step
    return {
        "current": _price_dict(home, ctx, current, resolution),
        "today": [_price_dict(home, ctx, s, resolution) for s in range(start, end, step)],
        "tomorrow": [_price_dict(home, ctx, s, resolution) for s in range(end, tomorrow_end, step)]
        if published_end >= tomorrow_end
        else [],
    }


def _resolve_price_range(parent: dict[str, Any], info: Info, **args: Any) -> dict[str, Any]:
    ctx: RequestContext = info.context
    home: SimHome = parent["_home"]
    tz = zone(home.time_zone)
    resolution = args["resolution"]
    first, end = ctx.data.history_start(home, ctx.now), ctx.data.price_end(home, ctx.now)
    slots: range | list[int]
    if resolution == "DAILY":
        day = datetime.fromtimestamp(first, tz).date()
        slots = []
        while (bounds := day_bounds(day, tz))[0] < end:
            slots.append(bounds[0])
            day += timedelta(days=1)
    else:
        slots = range(first, end, QUARTER if resolution == "QUARTER_HOURLY" else HOUR)
    page = select_page(
        slots, tz=tz, cap=PRICE_CAPS[resolution], first=args.get("first"), last=args.get("last"),
        before=args.get("before"), after=args.get("after"),
    )  # fmt: skip
    nodes = [_price_dict(home, ctx, s, resolution) for s in page.starts]
    page_info = {
        "startCursor": encode_cursor(nodes[0]["startsAt"]) if nodes else None,
        "endCursor": encode_cursor(nodes[-1]["startsAt"]) if nodes else None,
        "hasPreviousPage": page.has_previous,
        "hasNextPage": page.has_next,
        "resolution": resolution,
        "currency": home.currency,
        "count": len(nodes),
        "precision": None,
        "minEnergy": min((n["energy"] for n in nodes), default=None),
        "maxEnergy": max((n["energy"] for n in nodes), default=None),
        "minTotal": min((n["total"] for n in nodes), default=None),
        "maxTotal": max((n["total"] for n in nodes), default=None),
    }
    return {
        "pageInfo": page_info,
        "nodes": nodes,
        "edges": [{"cursor": encode_cursor(n["startsAt"]), "node": n} for n in nodes],
    }


@cache
def sim_schema() -> GraphQLSchema:
    """The executable schema: our SDL plus the resolvers above."""
    schema = build_schema(schema_sdl())
    wiring = {
        ("Query", "viewer"): _resolve_viewer,
        ("Viewer", "home"): _resolve_home,
        ("Home", "consumption"): _resolve_consumption,
        ("Home", "production"): _resolve_production,
        ("Subscription", "priceInfo"): _resolve_price_info,
        ("Subscription", "priceInfoRange"): _resolve_price_range,
    }
    for (type_name, field_name), resolver in wiring.items():
        gql_type = schema.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType)
        gql_type.fields[field_name].resolve = resolver
    return schema


class DocumentCache:
    """Parsed and validated documents by query text (clients send the same few documents again and again)."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._docs: OrderedDict[str, tuple[DocumentNode | None, list[GraphQLError]]] = OrderedDict()

    def get(self, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        hit = self._docs.get(query)
        if hit is not None:
            self._docs.move_to_end(query)
            return hit
        try:
            document: DocumentNode | None = parse(query)
        except GraphQLError as exc:
            result: tuple[DocumentNode | None, list[GraphQLError]] = (None, [exc])
        else:
            assert document is not None
            result = (document, list(validate(sim_schema(), document)))
        self._docs[query] = result
        if len(self._docs) > self._size:
            self._docs.popitem(last=False)
        return result


def run_query(
    document: DocumentNode, ctx: RequestContext, variables: dict[str, Any] | None, operation_name: str | None
) -> ExecutionResult:
    """Execute a validated document; then apply a pending malformed-node fault to the answer."""
    result = execute(
        sim_schema(), document, context_value=ctx, variable_values=variables, operation_name=operation_name
    )
    assert isinstance(result, ExecutionResult)  # every resolver is synchronous
    if result.data is not None:
        for path, bad_field in ctx.corrupt:
            _corrupt(result.data, path, bad_field)
    return result


def _corrupt(data: dict[str, Any], path: list[str | int], bad_field: str) -> None:
    """Break one node in the middle of the connection at ``path`` (nodes and edges alike)."""
    node: Any = data
    for key in path:
        if not isinstance(node, dict | list):
            return
        try:
            node = node[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return
    if not isinstance(node, dict):
        return
    bad_value = _BAD_VALUES.get(bad_field, "not-a-number")
    for value in node.values():
        if isinstance(value, list) and value:
            item = value[len(value) // 2]
            target = item.get("node") if isinstance(item, dict) and isinstance(item.get("node"), dict) else item
            if isinstance(target, dict) and bad_field in target:
                target[bad_field] = bad_value
