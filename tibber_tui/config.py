"""Layered configuration: command-line flags over environment over a TOML file over defaults.

The file is ``config.toml`` in the platformdirs config folder (``tibber-tui config-path`` prints it);
its keys are the field names below. Environment variables are ``TIBBER_TUI_<FIELD>`` in upper case,
plus the conventional ``DATABASE_URL``, ``TIBBER_API_URL`` and ``TIBBER_API_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

import platformdirs

APP_NAME = "tibber-tui"
DEFAULT_API_URL = "https://api.tibber.com/v1-beta/gql"


class ConfigError(ValueError):
    """A configuration value is wrong; the message says which and what is expected."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


@dataclass(frozen=True, slots=True)
class Config:
    """Everything that can be configured. Each field: flag > env > file > default."""

    database_url: str | None = None
    """PostgreSQL URL; empty means the embedded server in ``data_dir``."""
    data_dir: Path = field(default_factory=default_data_dir)
    """Where the embedded PostgreSQL server keeps its data."""
    api_url: str = DEFAULT_API_URL
    """The Tibber GraphQL endpoint (``TIBBER_API_URL``), e.g. the simulator's URL."""
    api_token: str | None = None
    """A token added to the token table at start if not present (``TIBBER_API_TOKEN``)."""
    rate_limit_requests: int = 80
    """Tibber API requests allowed per window for this whole process (Tibber bans at 100 per 5 min)."""
    rate_limit_window: float = 300.0
    """Length of the rate window in seconds."""
    history_limit_days: int = 0
    """How far back consumption/production are backfilled; 0 means as far as the API has data."""
    trailing_window_hours: int = 48
    """Recent hours re-read every hour, because Tibber revises them."""
    price_history_days: int = 30
    """Days of past prices loaded via priceInfoRange."""
    live_buffer_seconds: int = 3600
    """Live data kept in memory per home while the database is unreachable."""
    flush_interval: float = 1.0
    """Seconds between live-row flushes."""
    flush_rows: int = 2000
    """Flush earlier when this many live rows are pending."""
    lease_ttl: float = 15.0
    """Seconds a token lease lives without renewal."""
    lease_renew: float = 5.0
    """Seconds between lease renewals."""
    reconcile_interval: float = 60.0
    """Seconds between full reconciles of active tokens against running collectors."""
    log_format: Literal["human", "json"] = "human"
    """Headless log line format."""
    debug: bool = False
    """Show tracebacks and debug logs."""

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


_ENV_ALIASES = {
    "database_url": "DATABASE_URL",
    "api_url": "TIBBER_API_URL",
    "api_token": "TIBBER_API_TOKEN",
}


def _coerce(name: str, raw: Any, source: str) -> Any:
    hints = get_type_hints(Config)
    target = hints[name]
    args = get_args(target)
    if raw is None or (raw == "" and type(None) in args):
        if type(None) in args or name == "database_url":
            return None
        raise ConfigError(f"{source}: {name} must not be empty")
    base = next((a for a in args if a is not type(None)), target) if args else target
    try:
        if target is bool or base is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if base is int:
            if isinstance(raw, bool):
                raise ValueError
            value: Any = int(raw)
            if value < 0:
                raise ValueError
            return value
        if base is float:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
            if not value > 0:
                raise ValueError
            return value
        if base is Path:
            return Path(str(raw)).expanduser()
        if name == "log_format":
            if raw not in ("human", "json"):
                raise ValueError
            return raw
        return str(raw)
    except (TypeError, ValueError):
        expected = {int: "a whole number >= 0", float: "a number > 0", bool: "true or false"}.get(
            base, "'human' or 'json'" if name == "log_format" else "a text"
        )
        raise ConfigError(f"{source}: {name} = {raw!r} is not valid; expected {expected}") from None


def load_config(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Config:
    """Build the configuration from defaults, the TOML file, the environment and flag overrides."""
    env = os.environ if env is None else env
    names = [f.name for f in dataclasses.fields(Config)]
    values: dict[str, Any] = {}

    path = config_file or Path(env.get("TIBBER_TUI_CONFIG", "") or default_config_file())
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        for key, raw in data.items():
            if key not in names:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, f"config file {path}")

    for name in names:
        for var in (f"TIBBER_TUI_{name.upper()}", _ENV_ALIASES.get(name)):
            if var and var in env:
                values[name] = _coerce(name, env[var], f"environment {var}")

    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in names:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(name, raw, f"--{name.replace('_', '-')}")

    config = Config(**values)
    _check_together(config)
    return config


def _check_together(config: Config) -> None:
    """Settings that are only wrong in combination."""
    if config.lease_renew > config.lease_ttl / 3:
        # Each instance gives a token up shortly before its lease could expire; with renewals this sparse it
        # would stop and restart every token whenever one renewal is a little slow.
        raise ConfigError(
            f"lease_renew = {config.lease_renew:g} s must be at most a third of lease_ttl = {config.lease_ttl:g} s"
            " (a lease must outlive two missed renewals)"
        )
