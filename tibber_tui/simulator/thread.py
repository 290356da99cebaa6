"""Run a simulator in its own thread and event loop (for ``tibber-tui demo`` and benchmarks)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence

from tibber_tui.simulator.model import SimConfig, SimHome
from tibber_tui.simulator.server import Simulator


class SimulatorThread:
    """A started simulator on a background thread; ``stop()`` ends it."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="tibber-simulator", daemon=True)

    @property
    def url(self) -> str:
        return self.simulator.url

    @property
    def ws_url(self) -> str:
        return self.simulator.ws_url

    def start(self, host: str, port: int, timeout: float = 10.0) -> None:
        self._host, self._port = host, port
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the simulator did not start in time")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            await self.simulator.start(self._host, self._port)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await self.simulator.stop()

    def call(self, func: object, *args: object) -> None:
        """Run ``func(*args)`` on the simulator's loop (e.g. a fault switch) and wait for it."""
        done = threading.Event()

        def run() -> None:
            try:
                func(*args)  # type: ignore[operator]
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        """Close the sockets, stop listening and end the thread."""
        if self._thread.is_alive() and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)


def run_in_thread(
    config: SimConfig,
    tokens: Mapping[str, Sequence[SimHome] | int],
    host: str = "127.0.0.1",
    port: int = 0,
) -> SimulatorThread:
    """Start a simulator accepting ``tokens`` (homes, or a number of generated homes) on a background thread."""
    simulator = Simulator(config)
    for token, homes in tokens.items():
        simulator.add_token(token, homes)
    thread = SimulatorThread(simulator)
    thread.start(host, port)
    return thread
