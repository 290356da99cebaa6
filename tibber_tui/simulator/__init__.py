"""A Tibber-compatible API server (HTTP GraphQL + graphql-transport-ws) with deterministic data, limits and faults."""

from tibber_tui.simulator.data import SimData
from tibber_tui.simulator.faults import Faults
from tibber_tui.simulator.model import SimConfig, SimHome, generate_homes
from tibber_tui.simulator.server import Simulator
from tibber_tui.simulator.stats import SimStats
from tibber_tui.simulator.thread import SimulatorThread, run_in_thread

__all__ = [
    "Faults",
    "SimConfig",
    "SimData",
    "SimHome",
    "SimStats",
    "Simulator",
    "SimulatorThread",
    "generate_homes",
    "run_in_thread",
]
