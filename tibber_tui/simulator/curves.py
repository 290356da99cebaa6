"""Deterministic shapes behind the simulated data: household load, solar export, day-ahead prices.

Every random-looking value is a pure function of (seed-derived key, index), so the same seed always
gives the same numbers, in any order and in any process.
"""

from __future__ import annotations

import math

_MASK = (1 << 64) - 1
_TWO_PI = 2 * math.pi

# Salts that give each kind of noise its own stream.
SALT_DAY = 0x1D
SALT_SOLAR = 0x50
SALT_LATE = 0x1A7E
SALT_REVISE = 0x4E5
SALT_QUARTER = 0x0F
SALT_LIVE = 0x11FE
SALT_PHASE = 0x9A5E
SALT_PROD_NULL = 0x9110


def mix(x: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit value from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def unit(key: int, index: int) -> float:
    """A uniform value in [0, 1) for ``index`` in the stream ``key``."""
    return mix(key ^ mix(index & _MASK)) / 18446744073709551616.0


# Relative household load by local hour: low at night, peaks in the morning and evening.
LOAD_SHAPE = (
    0.45, 0.40, 0.38, 0.37, 0.38, 0.45, 0.70, 1.05, 1.15, 0.90, 0.75, 0.70,
    0.72, 0.70, 0.72, 0.85, 1.05, 1.35, 1.45, 1.35, 1.20, 1.00, 0.80, 0.60,
)  # fmt: skip

# Relative day-ahead price by local hour: cheap at night and midday (solar), dear at the peaks.
PRICE_SHAPE = (
    0.78, 0.74, 0.72, 0.71, 0.73, 0.80, 0.98, 1.22, 1.30, 1.15, 1.00, 0.92,
    0.86, 0.84, 0.88, 0.97, 1.10, 1.32, 1.40, 1.28, 1.12, 1.00, 0.92, 0.84,
)  # fmt: skip

MAX_HOURLY_LOAD = 0.9 * 1.45 * 1.35 * 1.2 * 1.15
"""Upper bound of ``load_kwh`` per unit of size (used to keep meter registers monotonic)."""


def winter_factor(day_of_year: int, amplitude: float) -> float:
    """1 +- amplitude over the year, highest in mid-January."""
    return 1.0 + amplitude * math.cos(_TWO_PI * (day_of_year - 15) / 365.25)


def load_kwh(key: int, hour_index: int, local_hour: int, day_of_year: int, day_index: int, size: float) -> float:
    """Household load in one hour (kWh): daily shape x season x weather of the day x hourly noise."""
    day = 0.8 + 0.4 * unit(key ^ SALT_DAY, day_index)
    noise = 0.85 + 0.3 * unit(key, hour_index)
    return size * 0.9 * LOAD_SHAPE[local_hour] * winter_factor(day_of_year, 0.35) * day * noise


def solar_kwh(key: int, local_hour: int, day_of_year: int, day_index: int, size: float) -> float:
    """Solar generation in one hour (kWh): a bell around local noon, longer and higher in summer, cloudy days."""
    summer = math.cos(_TWO_PI * (day_of_year - 172) / 365.25)
    day_length = 12.0 + 6.0 * summer
    x = (local_hour + 0.5 - (13.0 - day_length / 2)) / day_length
    if x <= 0.0 or x >= 1.0:
        return 0.0
    amplitude = 0.3 + 0.7 * (1 + summer) / 2
    clouds = 0.25 + 0.75 * unit(key ^ SALT_SOLAR, day_index)
    return float(size * 4.0 * math.sin(math.pi * x) ** 1.5 * amplitude * clouds)


def spot_energy(
    area_key: int, base: float, hour_index: int, local_hour: int, day_of_year: int, day_index: int
) -> float:
    """Hourly spot price (per kWh): daily shape x season x the day's market level x hourly noise."""
    day = 0.35 + 1.3 * unit(area_key ^ SALT_DAY, day_index)
    noise = 0.9 + 0.2 * unit(area_key, hour_index)
    return base * PRICE_SHAPE[local_hour] * winter_factor(day_of_year, 0.3) * day * noise


def quarter_factor(area_key: int, quarter_index: int) -> float:
    """How one quarter-hour deviates from its hour's price (+-6 %)."""
    return 1.0 + 0.12 * (unit(area_key ^ SALT_QUARTER, quarter_index) - 0.5)


def price_level(ratio: float) -> str:
    """Tibber's level of a price relative to its trailing average."""
    if ratio <= 0.6:
        return "VERY_CHEAP"
    if ratio <= 0.9:
        return "CHEAP"
    if ratio < 1.15:
        return "NORMAL"
    if ratio < 1.4:
        return "EXPENSIVE"
    return "VERY_EXPENSIVE"
