"""``tibber-tui simulate``: run the simulator in the foreground until SIGINT/SIGTERM.

``--sim-config`` names tokens and their homes in TOML or JSON::

    seed = 1                      # optional: seed, frame_interval, rate_limit, rate_window, ban_seconds, ...
    [[tokens]]
    token = "demo-token-1"
    homes = 3                     # generated homes ...
    producing = 1                 # ... the first one with solar export
    [[tokens]]
    token = "demo-token-2"
    homes = [{ id = "home-a", nickname = "Cabin", time_zone = "Europe/Oslo", address1 = "Fjellveien 1",
               postal_code = "3550", city = "Gol", country = "NO", producing = true }]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tomllib
from dataclasses import dataclass, fields
from datetime import time
from pathlib import Path
from typing import Any

from tibber_tui.config import Config
from tibber_tui.errors import TibberTuiError
from tibber_tui.simulator.model import TIME_ZONES, SimConfig, SimHome
from tibber_tui.simulator.server import Simulator

_CONFIG_KEYS = {
    "seed", "frame_interval", "rate_limit", "rate_window", "ban_seconds", "max_sockets_per_token",
    "tomorrow_publish", "history_days",
}  # fmt: skip


class SimConfigError(TibberTuiError):
    """The simulator's config file is wrong; the message says where."""


@dataclass
class TokenSpec:
    """One token of a simulator config: its homes, or how many to generate."""

    token: str
    homes: list[SimHome] | int
    producing: int = 0


def _home(raw: Any, where: str) -> SimHome:
    if not isinstance(raw, dict):
        raise SimConfigError(f"{where}: a home must be a table/object")
    names = {f.name for f in fields(SimHome)}
    unknown = set(raw) - names
    if unknown:
        raise SimConfigError(f"{where}: unknown home keys {sorted(unknown)}; known: {sorted(names)}")
    missing = {"id"} - set(raw)
    if missing:
        raise SimConfigError(f"{where}: a home needs an id")
    values = {"nickname": raw["id"], "time_zone": TIME_ZONES[0], "address1": "", "postal_code": "", "city": "",
              "country": "NO", **raw}  # fmt: skip
    if values["time_zone"] not in TIME_ZONES:
        raise SimConfigError(f"{where}: time_zone must be one of {', '.join(TIME_ZONES)}")
    try:
        return SimHome(**values)
    except TypeError as exc:
        raise SimConfigError(f"{where}: {exc}") from None


def load_sim_config(path: Path) -> tuple[dict[str, Any], list[TokenSpec]]:
    """(SimConfig overrides, tokens) from a TOML or JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise SimConfigError(f"simulator config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SimConfigError(f"simulator config {path}: expected a table/object at the top")
    overrides = {k: v for k, v in data.items() if k != "tokens"}
    unknown = set(overrides) - _CONFIG_KEYS
    if unknown:
        raise SimConfigError(f"simulator config {path}: unknown settings {sorted(unknown)}")
    if isinstance(overrides.get("tomorrow_publish"), str):
        try:
            overrides["tomorrow_publish"] = time.fromisoformat(overrides["tomorrow_publish"])
        except ValueError:
            raise SimConfigError(f"simulator config {path}: tomorrow_publish must be HH:MM") from None
    specs: list[TokenSpec] = []
    for n, raw in enumerate(data.get("tokens", []), start=1):
        where = f"simulator config {path}: token #{n}"
        if not isinstance(raw, dict) or not isinstance(raw.get("token"), str) or not raw["token"]:
            raise SimConfigError(f"{where}: needs a non-empty `token`")
        homes = raw.get("homes", 1)
        if isinstance(homes, list):
            specs.append(TokenSpec(raw["token"], [_home(h, f"{where} home #{i}") for i, h in enumerate(homes, 1)]))
        elif isinstance(homes, int) and not isinstance(homes, bool) and homes >= 0:
            specs.append(TokenSpec(raw["token"], homes, int(raw.get("producing", 0))))
        else:
            raise SimConfigError(f"{where}: `homes` must be a number or a list of homes")
    if not specs:
        raise SimConfigError(f"simulator config {path}: no [[tokens]] given")
    return overrides, specs


def generated_token(seed: int, index: int) -> str:
    """A token-like string for generated tokens (test data: printing it is fine)."""
    return f"sim-{seed}-{index:03d}-" + f"{(seed * 7919 + index * 104729) % 16**12:012X}"


def build_simulator(args: argparse.Namespace) -> Simulator:
    """The simulator the flags (and ``--sim-config``) describe."""
    overrides: dict[str, Any] = {"seed": args.seed, "frame_interval": args.frame_interval}
    specs: list[TokenSpec]
    if args.sim_config:
        file_overrides, specs = load_sim_config(Path(args.sim_config))
        overrides.update(file_overrides)
    else:
        specs = [TokenSpec(generated_token(args.seed, i), args.homes, producing=1) for i in range(1, args.tokens + 1)]
    if args.no_rate_limit:
        overrides["rate_limit"] = None
    if not overrides["frame_interval"] > 0:
        raise SimConfigError("--frame-interval must be > 0")
    sim = Simulator(SimConfig(**overrides))
    for spec in specs:
        sim.add_token(spec.token, spec.homes, producing=spec.producing)
    return sim


async def serve(sim: Simulator, host: str, port: int, stop: asyncio.Event | None = None) -> None:
    """Start ``sim``, print how to use it, and run until ``stop`` is set or SIGINT/SIGTERM arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread / no signals here
            loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start(host, port)
    except OSError as exc:
        raise SimConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    out = sys.stdout
    print(f"Tibber simulator listening; use TIBBER_API_URL={sim.url}", file=out)
    print(f"websocket: {sim.ws_url}   control: POST http://{host}:{sim.port}/_control", file=out)
    print("tokens it accepts (test data):", file=out)
    for token, homes in sim.tokens.items():
        producing = sum(1 for h in homes if h.producing)
        print(f"  {token}  ({len(homes)} homes, {producing} producing)", file=out)
    out.flush()
    try:
        await stop.wait()
    finally:
        await sim.stop()
        print("simulator stopped", file=out, flush=True)


def simulate_command(args: argparse.Namespace, config: Config) -> int:
    """``tibber-tui simulate``."""
    sim = build_simulator(args)
    asyncio.run(serve(sim, args.host, args.port))
    return 0
