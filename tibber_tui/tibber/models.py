"""Typed records of what the Tibber API returns, shared by the client, the store and the collector.

Timestamps are always timezone-aware ``datetime`` instants (the API's local offset kept). ``None`` means
"the API gave no value" and is never replaced by 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tibber_tui.tibber.errors import MalformedNode

PriceLevel = str
"""NORMAL, CHEAP, VERY_CHEAP, EXPENSIVE, VERY_EXPENSIVE, or an unknown value kept as the API sent it."""

PriceResolution = Literal["QUARTER_HOURLY", "HOURLY", "DAILY"]


@dataclass(frozen=True, slots=True)
class Address:
    address1: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    latitude: str | None = None
    longitude: str | None = None


@dataclass(frozen=True, slots=True)
class Home:
    """A home as seen by one token."""

    id: str
    nickname: str | None
    time_zone: str
    address: Address
    realtime_enabled: bool
    has_production: bool
    subscription_status: str | None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Viewer:
    """The answer to the homes query of one token."""

    websocket_url: str
    homes: tuple[Home, ...]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Price:
    starts_at: datetime
    total: float | None
    energy: float | None
    tax: float | None
    currency: str | None
    level: PriceLevel | None
    resolution: PriceResolution = "QUARTER_HOURLY"


@dataclass(frozen=True, slots=True)
class Consumption:
    """One hour of consumption; ``consumption``/``cost`` may be None for recent, not yet settled hours."""

    from_: datetime
    to: datetime
    consumption: float | None
    unit: str | None
    cost: float | None
    unit_price: float | None
    unit_price_vat: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class Production:
    """One hour of production (net export seen by the meter)."""

    from_: datetime
    to: datetime
    production: float | None
    unit: str | None
    profit: float | None
    unit_price: float | None
    unit_price_vat: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class LiveMeasurement:
    """One live frame of a home. Every field but ``timestamp`` may be missing in a frame (None)."""

    home_id: str
    timestamp: datetime
    power: float | None = None
    power_production: float | None = None
    accumulated_consumption: float | None = None
    accumulated_production: float | None = None
    accumulated_consumption_last_hour: float | None = None
    accumulated_production_last_hour: float | None = None
    accumulated_cost: float | None = None
    accumulated_reward: float | None = None
    currency: str | None = None
    min_power: float | None = None
    average_power: float | None = None
    max_power: float | None = None
    min_power_production: float | None = None
    max_power_production: float | None = None
    last_meter_consumption: float | None = None
    last_meter_production: float | None = None
    power_reactive: float | None = None
    power_production_reactive: float | None = None
    power_factor: float | None = None
    voltage_phase1: float | None = None
    voltage_phase2: float | None = None
    voltage_phase3: float | None = None
    current_l1: float | None = None
    current_l2: float | None = None
    current_l3: float | None = None
    signal_strength: int | None = None


LIVE_VALUE_FIELDS: tuple[str, ...] = tuple(
    name for name in LiveMeasurement.__slots__ if name not in ("home_id", "timestamp")
)
"""The value columns of a live row, in table order."""


@dataclass(frozen=True, slots=True)
class PriceDays:
    """Today's and tomorrow's prices of one home (``tomorrow`` is empty until Tibber publishes it)."""

    today: list[Price]
    tomorrow: list[Price]
    current: Price | None
    errors: list[MalformedNode] = field(default_factory=list)
    """Nodes that could not be read (left out of the lists)."""


@dataclass(frozen=True, slots=True)
class PricePage:
    """One backwards page of ``priceInfoRange``: ``prices`` oldest first."""

    prices: list[Price]
    start_cursor: str | None
    has_previous: bool
    start: datetime | None = None
    """The oldest instant of the page (decoded ``start_cursor``): pass it as ``before`` for the next page."""
    errors: list[MalformedNode] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """One home's part of a batched history request: ``last`` hours before ``before`` (None = up to now)."""

    home_id: str
    before: datetime | None
    last: int = 744
    production: bool = False


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One backwards page of hourly history of one home; lists oldest first.

    ``production`` is None when it was not asked for. ``consumption_start`` is the oldest hour of the page
    (pass it as ``before`` for the next page); ``has_previous`` says whether older data exists.
    """

    home_id: str
    consumption: list[Consumption]
    production: list[Production] | None
    consumption_start: datetime | None
    has_previous: bool
    errors: list[MalformedNode] = field(default_factory=list)
    production_start: datetime | None = None
    production_has_previous: bool = False
