"""The simulator's data: per-home hourly consumption/production and per-area 15-minute prices.

All values are pure functions of the seed, the home and the instant (see ``curves``), so tests can ask
``SimData`` for exactly what the API served. Time is handled as integer slot indices in UTC
(hour = epoch seconds // 3600, quarter = // 900), which makes DST days (23/25 hours, 92/100 quarters)
come out right without special cases; local days are cut with the home's zoneinfo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from tibber_tui.simulator import curves
from tibber_tui.simulator.curves import unit
from tibber_tui.simulator.model import SimHome, stable_int
from tibber_tui.tibber.models import Consumption, LiveMeasurement, Price, Production

if TYPE_CHECKING:
    from tibber_tui.simulator.frames import LiveModel

HOUR = 3600
QUARTER = 900
QUARTER_HOURLY_SINCE = date(2025, 10, 1)
"""Delivery day of the first real 15-minute prices; before it each hour's price repeats 4 times."""


@dataclass(frozen=True, slots=True)
class Area:
    """A price area: the market level and the taxes of a country."""

    code: str
    base: float  # typical spot price per kWh in the local currency
    energy_tax: float
    vat: float


AREAS = {
    "Europe/Oslo": Area("NO1", 0.80, 0.0, 0.25),
    "Europe/Stockholm": Area("SE3", 0.75, 0.439, 0.25),
    "Europe/Amsterdam": Area("NL", 0.09, 0.1088, 0.21),
}


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_iso(ts: float, tz: ZoneInfo) -> str:
    """``2025-01-01T00:00:00.000+01:00``: how Tibber writes an instant."""
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="milliseconds")


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """Epoch seconds of the local midnight starting ``day`` and the next one."""
    start = datetime.combine(day, time(0), tz).timestamp()
    end = datetime.combine(day + timedelta(days=1), time(0), tz).timestamp()
    return int(start), int(end)


@dataclass(frozen=True, slots=True)
class HourValues:
    """What one home's meter saw in one hour, final values."""

    start: int
    imported: float  # kWh, rounded like the API
    exported: float | None  # None for homes without production
    unit_price: float  # mean total price of the hour
    energy_price: float  # mean spot price of the hour
    currency: str


@dataclass(frozen=True, slots=True)
class PriceValues:
    """One price slot (quarter, hour or day)."""

    start: int
    total: float
    energy: float
    tax: float
    level: str


class SimData:
    """The expected values of every home: what the simulator serves and what tests compare with."""

    def __init__(self, seed: int, clock: Callable[[], datetime], history_days: int, tomorrow_publish: time) -> None:
        self.seed = seed
        self.clock = clock
        self.history_days = history_days
        self.tomorrow_publish = tomorrow_publish
        self.homes: dict[str, SimHome] = {}
        self._keys: dict[str, int] = {}
        self._hours: dict[tuple[str, int], HourValues] = {}
        self._quarters: dict[tuple[str, int], tuple[float, float, float]] = {}
        self._day_means: dict[tuple[str, date], float] = {}
        self._live: LiveModel | None = None

    # --- homes -------------------------------------------------------------------------------------

    def register(self, home: SimHome) -> None:
        self.homes[home.id] = home
        self._keys[home.id] = stable_int(self.seed, "home", home.id)

    def home(self, home_id: str) -> SimHome:
        try:
            return self.homes[home_id]
        except KeyError:
            raise KeyError(f"no simulated home {home_id!r}") from None

    def key(self, home_id: str) -> int:
        return self._keys[home_id]

    def now_ts(self) -> float:
        return self.clock().timestamp()

    # --- bounds ------------------------------------------------------------------------------------

    def history_start(self, home: SimHome, now: float | None = None) -> int:
        """Epoch seconds of the first hour with data: local midnight ``history_days`` ago."""
        tz = zone(home.time_zone)
        today = datetime.fromtimestamp(self.now_ts() if now is None else now, tz).date()
        return day_bounds(today - timedelta(days=self.history_days), tz)[0]

    def newest_hour(self, now: float | None = None) -> int:
        """Start (epoch s) of the last completed hour."""
        now = self.now_ts() if now is None else now
        return int(now // HOUR) * HOUR - HOUR

    def price_end(self, home: SimHome, now: float | None = None) -> int:
        """End (epoch s) of the published prices: tomorrow's midnight, or the day after once published."""
        now = self.now_ts() if now is None else now
        tz = zone(home.time_zone)
        local = datetime.fromtimestamp(now, tz)
        last_day = local.date() + timedelta(days=1 if local.time() >= self.tomorrow_publish else 0)
        return day_bounds(last_day, tz)[1]

    # --- prices ------------------------------------------------------------------------------------

    def _area_key(self, tz_name: str) -> int:
        return stable_int(self.seed, "area", tz_name)

    def _hour_energy(self, tz_name: str, hour_index: int) -> float:
        local = datetime.fromtimestamp(hour_index * HOUR, zone(tz_name))
        area = AREAS.get(tz_name, AREAS["Europe/Amsterdam"])
        return curves.spot_energy(
            self._area_key(tz_name), area.base, hour_index, local.hour, local.timetuple().tm_yday, local.toordinal()
        )

    def quarter(self, tz_name: str, quarter_index: int) -> tuple[float, float, float]:
        """(total, energy, tax) of one quarter-hour, rounded to 4 decimals."""
        cache_key = (tz_name, quarter_index)
        cached = self._quarters.get(cache_key)
        if cached is not None:
            return cached
        start = quarter_index * QUARTER
        energy = self._hour_energy(tz_name, start // HOUR)
        if datetime.fromtimestamp(start, zone(tz_name)).date() >= QUARTER_HOURLY_SINCE:
            energy *= curves.quarter_factor(self._area_key(tz_name), quarter_index)
        area = AREAS.get(tz_name, AREAS["Europe/Amsterdam"])
        energy = round(energy, 4)
        tax = round((energy + area.energy_tax) * area.vat + area.energy_tax, 4)
        value = (round(energy + tax, 4), energy, tax)
        if len(self._quarters) > 500_000:
            self._quarters.clear()
        self._quarters[cache_key] = value
        return value

    def day_mean_total(self, tz_name: str, day: date) -> float:
        """Mean total price of a local day (the base of the trailing averages behind ``level``)."""
        cache_key = (tz_name, day)
        mean = self._day_means.get(cache_key)
        if mean is None:
            start, end = day_bounds(day, zone(tz_name))
            totals = [self.quarter(tz_name, q)[0] for q in range(start // QUARTER, end // QUARTER)]
            mean = sum(totals) / len(totals)
            self._day_means[cache_key] = mean
        return mean

    def _level(self, tz_name: str, start: int, total: float, trailing_days: int) -> str:
        day = datetime.fromtimestamp(start, zone(tz_name)).date()
        days = [day - timedelta(days=n) for n in range(1, trailing_days + 1)]
        average = sum(self.day_mean_total(tz_name, d) for d in days) / trailing_days
        return curves.price_level(total / average if average > 0 else 1.0)

    def price_slot(self, tz_name: str, start: int, resolution: str) -> PriceValues:
        """One price of ``resolution`` (QUARTER_HOURLY, HOURLY or DAILY) starting at ``start`` (epoch s)."""
        if resolution == "QUARTER_HOURLY":
            total, energy, tax = self.quarter(tz_name, start // QUARTER)
            return PriceValues(start, total, energy, tax, self._level(tz_name, start, total, 3))
        if resolution == "HOURLY":
            parts = [self.quarter(tz_name, q) for q in range(start // QUARTER, start // QUARTER + 4)]
        else:
            day = datetime.fromtimestamp(start, zone(tz_name)).date()
            first, end = day_bounds(day, zone(tz_name))
            parts = [self.quarter(tz_name, q) for q in range(first // QUARTER, end // QUARTER)]
        total = round(sum(p[0] for p in parts) / len(parts), 4)
        energy = round(sum(p[1] for p in parts) / len(parts), 4)
        trailing = 3 if resolution == "HOURLY" else 30
        return PriceValues(start, total, energy, round(total - energy, 4), self._level(tz_name, start, total, trailing))

    def day_slots(self, home: SimHome, day: date) -> list[int]:
        """Quarter-hour starts (epoch s) of a local day: 92, 96 or 100 of them."""
        start, end = day_bounds(day, zone(home.time_zone))
        return list(range(start, end, QUARTER))

    def price_model(self, home: SimHome, values: PriceValues, resolution: str) -> Price:
        return Price(
            starts_at=datetime.fromtimestamp(values.start, zone(home.time_zone)),
            total=values.total,
            energy=values.energy,
            tax=values.tax,
            currency=home.currency,
            level=values.level,
            resolution=resolution,  # type: ignore[arg-type]
        )

    def prices(self, home_id: str, local_day: date) -> list[Price]:
        """The 15-minute prices of a home's local day (published or not)."""
        home = self.home(home_id)
        return [
            self.price_model(home, self.price_slot(home.time_zone, s, "QUARTER_HOURLY"), "QUARTER_HOURLY")
            for s in self.day_slots(home, local_day)
        ]

    # --- consumption and production -----------------------------------------------------------------

    def hour(self, home: SimHome, start: int) -> HourValues:
        """Final meter values of the hour starting at ``start`` (epoch s)."""
        cache_key = (home.id, start)
        cached = self._hours.get(cache_key)
        if cached is not None:
            return cached
        key = self._keys[home.id]
        hour_index = start // HOUR
        local = datetime.fromtimestamp(start, zone(home.time_zone))
        doy, day_index = local.timetuple().tm_yday, local.toordinal()
        load = curves.load_kwh(key, hour_index, local.hour, doy, day_index, home.size)
        solar = curves.solar_kwh(key, local.hour, doy, day_index, home.size) if home.producing else 0.0
        price = self.price_slot(home.time_zone, start, "HOURLY")
        values = HourValues(
            start=start,
            imported=round(max(0.0, load - solar), 3),
            exported=round(max(0.0, solar - load), 3) if home.producing else None,
            unit_price=price.total,
            energy_price=price.energy,
            currency=home.currency,
        )
        if len(self._hours) > 1_000_000:
            self._hours.clear()
        self._hours[cache_key] = values
        return values

    def settle_factor(self, home_id: str, start: int, now: float) -> float | None:
        """How the API shows an hour at ``now``: None = not yet reported, else a factor on the final value.

        About 30 % of hours arrive 1-3 hours late (null meanwhile) and about 30 % are first reported with a
        preliminary value that is revised within 6 hours of the hour's end.
        """
        age = (now - start - HOUR) / HOUR
        r = unit(self._keys[home_id] ^ curves.SALT_LATE, start // HOUR)
        if r < 0.3 and age < 1 + int(r / 0.1):
            return None
        if r < 0.6 and age < 6:
            return 0.9 + 0.2 * unit(self._keys[home_id] ^ curves.SALT_REVISE, start // HOUR)
        return 1.0

    def consumption_row(self, home: SimHome, start: int, now: float | None) -> Consumption:
        """One hour as served at ``now`` (None = final)."""
        hv = self.hour(home, start)
        factor = 1.0 if now is None else self.settle_factor(home.id, start, now)
        tz = zone(home.time_zone)
        value = None if factor is None else round(hv.imported * factor, 3)
        vat_share = AREAS.get(home.time_zone, AREAS["Europe/Amsterdam"]).vat
        return Consumption(
            from_=datetime.fromtimestamp(start, tz),
            to=datetime.fromtimestamp(start + HOUR, tz),
            consumption=value,
            unit="kWh",
            cost=None if value is None else round(value * hv.unit_price, 4),
            unit_price=hv.unit_price,
            unit_price_vat=round(hv.unit_price * vat_share / (1 + vat_share), 4),
            currency=hv.currency,
        )

    def production_row(self, home: SimHome, start: int, now: float | None) -> Production:
        hv = self.hour(home, start)
        factor = 1.0 if now is None else self.settle_factor(home.id, start, now)
        tz = zone(home.time_zone)
        value = None if factor is None or hv.exported is None else round(hv.exported * factor, 3)
        return Production(
            from_=datetime.fromtimestamp(start, tz),
            to=datetime.fromtimestamp(start + HOUR, tz),
            production=value,
            unit="kWh",
            profit=None if value is None else round(value * hv.energy_price, 4),
            unit_price=hv.energy_price if home.producing else None,
            unit_price_vat=0.0 if home.producing else None,
            currency=hv.currency,
        )

    def hour_starts(self, home: SimHome, start: datetime, end: datetime, now: float) -> range:
        """Hour starts in [start, end) that the API has at ``now``."""
        first = max(self.history_start(home, now), -(-int(start.timestamp()) // HOUR) * HOUR)
        last = min(self.newest_hour(now) + HOUR, int(end.timestamp()))
        return range(first, max(first, last), HOUR)

    def consumption(
        self, home_id: str, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> list[Consumption]:
        """Hourly consumption in [start, end): final values, or as served at ``as_of`` when given."""
        home = self.home(home_id)
        now = (as_of or self.clock()).timestamp()
        served = None if as_of is None else now
        return [self.consumption_row(home, s, served) for s in self.hour_starts(home, start, end, now)]

    def production(
        self, home_id: str, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> list[Production]:
        """Hourly production in [start, end); values are None for homes without production."""
        home = self.home(home_id)
        now = (as_of or self.clock()).timestamp()
        served = None if as_of is None else now
        return [self.production_row(home, s, served) for s in self.hour_starts(home, start, end, now)]

    # --- live ----------------------------------------------------------------------------------------

    @property
    def live_model(self) -> LiveModel:
        if self._live is None:
            from tibber_tui.simulator.frames import LiveModel  # frames builds on this module

            self._live = LiveModel(self)
        return self._live

    def live(self, home_id: str, at: datetime) -> LiveMeasurement:
        """The live frame of a home at ``at`` (fields missing from that frame are None)."""
        return self.live_model.measurement(self.home(home_id), at)
