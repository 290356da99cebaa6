"""Live frames (``liveMeasurement``) derived from the same hourly values the history serves.

Power follows the hour's meter value with +-25 % noise; accumulated values are sums over the local day's
hours so far (they reset at local midnight); phase values appear in about one frame in five and a
producing home's ``powerProduction`` is missing in some frames, like real meters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tibber_tui.simulator import curves
from tibber_tui.simulator.curves import unit
from tibber_tui.simulator.data import HOUR, SimData, day_bounds, zone
from tibber_tui.simulator.model import SimHome
from tibber_tui.tibber.models import LiveMeasurement

_METER_EPOCH = date(2020, 1, 1).toordinal()

# API field name -> LiveMeasurement attribute.
FIELD_NAMES: dict[str, str] = {
    "timestamp": "timestamp",
    "power": "power",
    "powerProduction": "power_production",
    "accumulatedConsumption": "accumulated_consumption",
    "accumulatedProduction": "accumulated_production",
    "accumulatedConsumptionLastHour": "accumulated_consumption_last_hour",
    "accumulatedProductionLastHour": "accumulated_production_last_hour",
    "accumulatedCost": "accumulated_cost",
    "accumulatedReward": "accumulated_reward",
    "currency": "currency",
    "minPower": "min_power",
    "averagePower": "average_power",
    "maxPower": "max_power",
    "minPowerProduction": "min_power_production",
    "maxPowerProduction": "max_power_production",
    "lastMeterConsumption": "last_meter_consumption",
    "lastMeterProduction": "last_meter_production",
    "powerReactive": "power_reactive",
    "powerProductionReactive": "power_production_reactive",
    "powerFactor": "power_factor",
    "voltagePhase1": "voltage_phase1",
    "voltagePhase2": "voltage_phase2",
    "voltagePhase3": "voltage_phase3",
    "currentL1": "current_l1",
    "currentL2": "current_l2",
    "currentL3": "current_l3",
    "signalStrength": "signal_strength",
}


@dataclass(frozen=True, slots=True)
class DayProfile:
    """One home's local day as hourly sums, so a frame costs O(1) whatever the time of day."""

    first_hour: int  # epoch s of local midnight
    imported: tuple[float, ...]  # kWh per hour
    exported: tuple[float, ...]
    cum_imported: tuple[float, ...]  # kWh before each hour
    cum_exported: tuple[float, ...]
    cum_cost: tuple[float, ...]
    cum_reward: tuple[float, ...]
    min_w: tuple[float, ...]  # lowest hourly import (W) up to and including each hour
    max_w: tuple[float, ...]
    max_export_w: tuple[float, ...]
    days_since_epoch: int


def _running(values: list[float], pick: Any) -> tuple[float, ...]:
    out: list[float] = []
    for v in values:
        out.append(v if not out else pick(out[-1], v))
    return tuple(out)


def _cumulative(values: list[float]) -> tuple[float, ...]:
    out = [0.0]
    for v in values[:-1]:
        out.append(out[-1] + v)
    return tuple(out)


class LiveModel:
    """Builds live frames for any home and instant."""

    def __init__(self, data: SimData) -> None:
        self.data = data
        self._days: dict[tuple[str, int], DayProfile] = {}

    def _day(self, home: SimHome, day: date) -> DayProfile:
        ordinal = day.toordinal()
        cached = self._days.get((home.id, ordinal))
        if cached is not None:
            return cached
        start, end = day_bounds(day, zone(home.time_zone))
        hours = [self.data.hour(home, s) for s in range(start, end, HOUR)]
        imported = [h.imported for h in hours]
        exported = [h.exported or 0.0 for h in hours]
        profile = DayProfile(
            first_hour=start,
            imported=tuple(imported),
            exported=tuple(exported),
            cum_imported=_cumulative(imported),
            cum_exported=_cumulative(exported),
            cum_cost=_cumulative([h.imported * h.unit_price for h in hours]),
            cum_reward=_cumulative([(h.exported or 0.0) * h.energy_price for h in hours]),
            min_w=_running([v * 1000 for v in imported], min),
            max_w=_running([v * 1000 for v in imported], max),
            max_export_w=_running([v * 1000 for v in exported], max),
            days_since_epoch=ordinal - _METER_EPOCH,
        )
        if len(self._days) > 50_000:
            self._days.clear()
        self._days[(home.id, ordinal)] = profile
        return profile

    def values(self, home: SimHome, ts: float) -> dict[str, Any]:
        """The frame of ``home`` at epoch seconds ``ts`` as API field name -> value (None = not in this frame)."""
        ms = round(ts * 1000)
        ts = ms / 1000  # frames carry milliseconds: the noise must follow the timestamp as written
        tz = zone(home.time_zone)
        # Built from whole milliseconds: a float round trip could print one millisecond less than `ms`.
        local = datetime.fromtimestamp(ms // 1000, tz) + timedelta(milliseconds=ms % 1000)
        day = self._day(home, local.date())
        pos = min(int((ts - day.first_hour) // HOUR), len(day.imported) - 1)
        frac = (ts - day.first_hour - pos * HOUR) / HOUR
        key = self.data.key(home.id)
        noise = 1.0 + 0.25 * (2 * unit(key ^ curves.SALT_LIVE, ms) - 1)
        power = day.imported[pos] * 1000 * noise
        acc_import = day.cum_imported[pos] + day.imported[pos] * frac
        acc_export = day.cum_exported[pos] + day.exported[pos] * frac
        elapsed_h = pos + frac
        hv = self.data.hour(home, day.first_hour + pos * HOUR)
        frame: dict[str, Any] = {
            "timestamp": local.isoformat(timespec="milliseconds"),
            "power": round(power, 1),
            "accumulatedConsumption": round(acc_import, 4),
            "accumulatedProduction": round(acc_export, 4),
            "accumulatedConsumptionLastHour": round(day.imported[pos] * frac, 4),
            "accumulatedProductionLastHour": round(day.exported[pos] * frac, 4),
            "accumulatedCost": round(day.cum_cost[pos] + day.imported[pos] * frac * hv.unit_price, 4),
            "accumulatedReward": None,
            "currency": home.currency,
            "minPower": round(day.min_w[pos] * 0.75, 1),
            "averagePower": round(acc_import * 1000 / elapsed_h if elapsed_h > 0.01 else power, 1),
            "maxPower": round(day.max_w[pos] * 1.25, 1),
            "powerProduction": None,
            "minPowerProduction": None,
            "maxPowerProduction": None,
            "lastMeterConsumption": round(5000 + key % 20000 + day.days_since_epoch * 62 * home.size + acc_import, 3),
            "lastMeterProduction": None,
            "powerReactive": round(power * 0.00012, 3),
            "powerProductionReactive": None,
            "powerFactor": round(0.9 + 0.09 * unit(key, ms // 1000), 3),
            "voltagePhase1": None,
            "voltagePhase2": None,
            "voltagePhase3": None,
            "currentL1": None,
            "currentL2": None,
            "currentL3": None,
            "signalStrength": -60 - int(30 * unit(key ^ curves.SALT_PHASE, ms // 60000)),
        }
        if home.producing:
            frame["accumulatedReward"] = round(day.cum_reward[pos] + day.exported[pos] * frac * hv.energy_price, 4)
            frame["minPowerProduction"] = 0.0
            frame["maxPowerProduction"] = round(day.max_export_w[pos] * 1.25, 1)
            frame["lastMeterProduction"] = round(
                1000 + key % 5000 + day.days_since_epoch * 40 * home.size + acc_export, 3
            )
            frame["powerProductionReactive"] = 0.0
            if unit(key ^ curves.SALT_PROD_NULL, ms) >= 0.15:
                frame["powerProduction"] = round(day.exported[pos] * 1000 * noise, 1)
        if unit(key ^ curves.SALT_PHASE, ms) < 0.2:
            for n in (1, 2, 3):
                frame[f"voltagePhase{n}"] = round(229.0 + 4 * unit(key ^ n, ms), 1)
                frame[f"currentL{n}"] = round(power / 230 / 3 * (0.8 + 0.4 * unit(key ^ (n + 7), ms)), 2)
        return frame

    def measurement(self, home: SimHome, at: datetime) -> LiveMeasurement:
        frame = self.values(home, at.timestamp())
        kwargs = {FIELD_NAMES[k]: v for k, v in frame.items() if k != "timestamp"}
        return LiveMeasurement(home_id=home.id, timestamp=datetime.fromisoformat(frame["timestamp"]), **kwargs)
