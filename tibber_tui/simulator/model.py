"""What the simulator serves: its homes and its settings."""

from __future__ import annotations

import hashlib
import time as _time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time

TIME_ZONES = ("Europe/Oslo", "Europe/Stockholm", "Europe/Amsterdam")
"""The time zones of generated homes, in rotation."""

_CITIES = {
    "Europe/Oslo": ("Oslo", "0150", "NO", ("Karl Johans gate", "Storgata", "Thereses gate", "Bogstadveien")),
    "Europe/Stockholm": ("Stockholm", "111 52", "SE", ("Kungsgatan", "Drottninggatan", "Sveavägen", "Götgatan")),
    "Europe/Amsterdam": ("Amsterdam", "1012 JS", "NL", ("Damrak", "Prinsengracht", "Keizersgracht", "Kalverstraat")),
}

CURRENCIES = {"Europe/Oslo": "NOK", "Europe/Stockholm": "SEK", "Europe/Amsterdam": "EUR"}
"""The currency of a home, by its time zone."""


def utc_now() -> datetime:
    """The real time, as an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass
class SimHome:
    """One simulated home of a token."""

    id: str
    nickname: str
    time_zone: str
    address1: str
    postal_code: str
    city: str
    country: str
    realtime: bool = True
    producing: bool = False
    size: float = 1.0
    """Scale of the household load (1.0 = a typical flat/house, ~20 kWh a day)."""

    @property
    def currency(self) -> str:
        return CURRENCIES.get(self.time_zone, "EUR")


@dataclass
class SimConfig:
    """Settings of one simulator; every value can be changed for a test."""

    seed: int = 1
    """Seed of all generated data: the same seed gives the same homes, prices and values."""
    frame_interval: float = 2.0
    """Seconds between live frames of one socket (down to 0.01 for benchmarks)."""
    rate_limit: int | None = 100
    """HTTP requests (and websocket upgrades) allowed per IP and window; None disables the limit."""
    rate_window: float = 300.0
    """Length of the rate window in seconds."""
    ban_seconds: float = 600.0
    """How long an IP over the limit is banned; traffic during the ban renews it."""
    max_sockets_per_token: int = 2
    """Open websockets allowed per token; the next one is closed with 4429."""
    tomorrow_publish: time = time(13, 0)
    """Local time of the home at which tomorrow's prices appear."""
    history_days: int = 800
    """How many days back consumption, production and prices exist."""
    clock: Callable[[], datetime] = utc_now
    """The simulated 'now' (aware datetime); tests fix it."""
    monotonic: Callable[[], float] = _time.monotonic
    """Time source of rate windows and bans (real elapsed seconds even when ``clock`` is fixed)."""
    init_timeout: float = 10.0
    """Seconds a websocket may stay open without ``connection_init`` before it is closed with 4408."""


def stable_int(*parts: object) -> int:
    """A 64-bit integer derived from ``parts``, the same in every process (unlike ``hash``)."""
    digest = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def generate_homes(seed: int, token: str, count: int, producing: int = 0, start: int = 0) -> list[SimHome]:
    """``count`` deterministic homes for ``token``; the first ``producing`` of them export solar power."""
    homes: list[SimHome] = []
    for index in range(start, start + count):
        key = stable_int(seed, token, index)
        tz = TIME_ZONES[index % len(TIME_ZONES)]
        city, postal, country, streets = _CITIES[tz]
        street = streets[key % len(streets)]
        homes.append(
            SimHome(
                id=str(uuid.UUID(int=stable_int(seed, token, index, "id") << 64 | key, version=4)),
                nickname=f"{city} home {index + 1}",
                time_zone=tz,
                address1=f"{street} {1 + key % 97}",
                postal_code=postal,
                city=city,
                country=country,
                realtime=True,
                producing=index - start < producing,
                size=round(0.6 + (key >> 8) % 100 / 100, 2),
            )
        )
    return homes
