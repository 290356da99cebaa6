"""Parsing Tibber answers into models: offsets, nulls, unknown enums, malformed nodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tibber_tui.tibber.errors import MalformedNode
from tibber_tui.tibber.parse import (
    decode_cursor,
    encode_cursor,
    parse_connection,
    parse_consumption,
    parse_live,
    parse_price,
    parse_viewer,
)

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


def consumption_node(start: str, end: str, value: Any = 1.25, cost: Any = 2.5) -> dict[str, Any]:
    return {
        "from": start,
        "to": end,
        "consumption": value,
        "consumptionUnit": "kWh",
        "cost": cost,
        "unitPrice": 2.0,
        "unitPriceVAT": 0.4,
        "currency": "NOK",
    }


def test_timestamps_with_offsets_become_aware_instants() -> None:
    node = parse_consumption(consumption_node("2025-01-01T00:00:00.000+01:00", "2025-01-01T01:00:00.000+01:00"), "n")
    assert node.from_ == datetime(2025, 1, 1, 0, 0, tzinfo=CET)
    assert node.from_.utcoffset() == timedelta(hours=1)
    assert node.to - node.from_ == timedelta(hours=1)
    assert node.consumption == 1.25 and node.cost == 2.5 and node.currency == "NOK"


def test_dst_night_keeps_both_two_oclock_hours_apart() -> None:
    """2025-10-26 Europe/Oslo: 02:00 happens twice; the offsets keep the instants distinct."""
    first = parse_consumption(consumption_node("2025-10-26T02:00:00.000+02:00", "2025-10-26T02:00:00.000+01:00"), "a")
    second = parse_consumption(consumption_node("2025-10-26T02:00:00.000+01:00", "2025-10-26T03:00:00.000+01:00"), "b")
    assert first.from_ != second.from_
    assert second.from_ - first.from_ == timedelta(hours=1)
    assert first.from_.astimezone(UTC) == datetime(2025, 10, 26, 0, 0, tzinfo=UTC)


def test_null_values_stay_none_never_zero() -> None:
    node = parse_consumption(
        consumption_node("2025-01-01T00:00:00+01:00", "2025-01-01T01:00:00+01:00", value=None, cost=None), "n"
    )
    assert node.consumption is None
    assert node.cost is None


def test_integer_values_become_floats() -> None:
    node = parse_consumption(consumption_node("2025-01-01T00:00:00+01:00", "2025-01-01T01:00:00+01:00", value=3), "n")
    assert node.consumption == 3.0 and isinstance(node.consumption, float)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("from", None, "is missing"),
        ("from", "yesterday", "is not an ISO timestamp"),
        ("from", "2025-01-01T00:00:00", "has no UTC offset"),
        ("from", 1735689600, "is not a timestamp string"),
        ("consumption", "1.5", "is not a number"),
        ("cost", True, "is not a number"),
    ],
)
def test_malformed_node_names_field_and_path(field: str, value: Any, reason: str) -> None:
    raw = consumption_node("2025-01-01T00:00:00+01:00", "2025-01-01T01:00:00+01:00")
    raw[field] = value
    with pytest.raises(MalformedNode) as caught:
        parse_consumption(raw, "viewer.home[h].consumption.nodes[7]")
    assert caught.value.field == field
    assert caught.value.path == "viewer.home[h].consumption.nodes[7]"
    assert reason in str(caught.value)
    assert field in str(caught.value)


def test_one_bad_node_does_not_lose_the_rest_of_the_page() -> None:
    nodes = [
        consumption_node(f"2025-01-01T0{h}:00:00.000+01:00", f"2025-01-01T0{h + 1}:00:00.000+01:00") for h in range(4)
    ]
    nodes[2]["from"] = "not a time"
    cursor = encode_cursor(datetime(2025, 1, 1, tzinfo=CET))
    errors: list[MalformedNode] = []
    page = parse_connection(
        {"pageInfo": {"startCursor": cursor, "hasPreviousPage": True}, "nodes": nodes},
        "viewer.home[h].consumption",
        parse_consumption,
        errors,
    )
    assert [n.from_.hour for n in page.nodes] == [0, 1, 3]
    assert len(errors) == 1
    assert errors[0].field == "from"
    assert errors[0].path == "viewer.home[h].consumption.nodes[2]"
    assert page.has_previous is True
    assert page.start == datetime(2025, 1, 1, tzinfo=CET)


def test_connection_without_cursor_starts_at_oldest_node_and_null_connection_is_empty() -> None:
    nodes = [consumption_node("2025-01-01T05:00:00+01:00", "2025-01-01T06:00:00+01:00")]
    errors: list[MalformedNode] = []
    page = parse_connection({"pageInfo": {"hasPreviousPage": None}, "nodes": nodes}, "p", parse_consumption, errors)
    assert page.start == datetime(2025, 1, 1, 5, tzinfo=CET)
    assert page.has_previous is True  # unknown → a non-empty page means "look further back"
    empty = parse_connection(None, "p", parse_consumption, errors)
    assert empty.nodes == [] and empty.has_previous is False and errors == []


def test_cursor_is_base64_iso_and_round_trips() -> None:
    instant = datetime(2025, 10, 26, 2, 0, tzinfo=CET)
    cursor = encode_cursor(instant)
    import base64

    assert base64.b64decode(cursor).decode() == "2025-10-26T02:00:00.000+01:00"
    assert decode_cursor(cursor) == instant
    assert decode_cursor(None) is None
    assert decode_cursor("%%%") is None
    with pytest.raises(ValueError):
        encode_cursor(datetime(2025, 1, 1))


def test_price_unknown_level_kept_and_null_level_none() -> None:
    raw = {"total": 1.1, "energy": 0.8, "tax": 0.3, "startsAt": "2025-10-01T00:15:00.000+02:00", "currency": "SEK"}
    price = parse_price({**raw, "level": "SUPER_CHEAP"}, "p")
    assert price.level == "SUPER_CHEAP"
    assert price.starts_at == datetime(2025, 10, 1, 0, 15, tzinfo=CEST)
    assert parse_price({**raw, "level": None}, "p").level is None
    assert parse_price({**raw, "total": None}, "p").total is None


def test_viewer_homes_production_from_production_ean_and_bad_home_skipped() -> None:
    data = {
        "viewer": {
            "name": "Arya",
            "websocketSubscriptionUrl": "wss://example/sub",
            "homes": [
                {
                    "id": "h1",
                    "appNickname": "Cabin",
                    "timeZone": "Europe/Oslo",
                    "address": {"address1": "Storgata 1", "postalCode": "0150", "city": "Oslo", "country": "NO"},
                    "features": {"realTimeConsumptionEnabled": True},
                    "meteringPointData": {"productionEan": "707057500000000001"},
                    "currentSubscription": {"status": "running"},
                },
                {
                    "id": "h2",
                    "appNickname": None,
                    "timeZone": "Europe/Amsterdam",
                    "address": None,
                    "features": {"realTimeConsumptionEnabled": None},
                    "meteringPointData": {"productionEan": None},
                    "currentSubscription": None,
                },
                {"id": None, "timeZone": "Europe/Oslo"},
            ],
        }
    }
    skipped: list[MalformedNode] = []
    viewer = parse_viewer(data, skipped=skipped)
    assert viewer.websocket_url == "wss://example/sub"
    assert [h.id for h in viewer.homes] == ["h1", "h2"]
    first, second = viewer.homes
    assert first.has_production and first.realtime_enabled and first.address.city == "Oslo"
    assert first.subscription_status == "running"
    assert not second.has_production and not second.realtime_enabled
    assert second.nickname is None and second.subscription_status is None and second.address.city is None
    assert len(skipped) == 1 and skipped[0].field == "id" and skipped[0].path == "viewer.homes[2]"
    with pytest.raises(MalformedNode):
        parse_viewer(data)


def test_live_frame_missing_fields_are_none_and_ints_are_floats() -> None:
    frame = {
        "timestamp": "2025-03-30T03:00:01.000+02:00",
        "power": 1500,
        "accumulatedConsumption": 3.2,
        "powerProduction": None,
        "signalStrength": -71,
        "currency": "NOK",
    }
    measurement = parse_live("home-1", frame)
    assert measurement.home_id == "home-1"
    assert measurement.timestamp == datetime(2025, 3, 30, 3, 0, 1, tzinfo=CEST)
    assert measurement.power == 1500.0 and isinstance(measurement.power, float)
    assert measurement.power_production is None
    assert measurement.voltage_phase1 is None  # not in this frame: None, never 0
    assert measurement.signal_strength == -71 and measurement.currency == "NOK"


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"power": 1.0}, "timestamp"),
        ({"timestamp": "2025-01-01T00:00:00+01:00", "power": "high"}, "power"),
        ({"timestamp": "2025-01-01T00:00:00+01:00", "signalStrength": 1.5}, "signalStrength"),
    ],
)
def test_live_frame_malformed(frame: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedNode) as caught:
        parse_live("h", frame)
    assert caught.value.field == field
