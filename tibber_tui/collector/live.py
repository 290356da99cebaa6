"""LiveLoader: the token's one websocket (``LiveStream``) feeding the process's BatchWriter and the event sink."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tibber_tui.collector.events import LiveSample, LoaderState, StreamStateChanged
from tibber_tui.collector.token_collector import LiveLoaderLike, TokenCollector
from tibber_tui.errors import describe
from tibber_tui.tibber.errors import ApiBug
from tibber_tui.tibber.models import LiveMeasurement

if TYPE_CHECKING:
    from tibber_tui.tibber.client import TibberClient

# How a stream state shows in the loader status of each realtime home.
_LOADER_STATE: dict[str, LoaderState] = {
    "connecting": "starting",
    "connected": "running",
    "stale": "backing_off",
    "reconnecting": "backing_off",
    "cooling_down": "backing_off",
    "closed": "stopped",
}


class LiveLoader(LiveLoaderLike):
    """Runs the token's LiveStream; frames go to the BatchWriter and out as ``LiveSample`` events."""

    def __init__(self, collector: TokenCollector, client: TibberClient) -> None:
        from tibber_tui.tibber.live import LiveStream

        self.collector = collector
        self.ctx = collector.ctx
        self.token_id = collector.token_id
        timings = self.ctx.timings
        kwargs: dict[str, Any] = {"ping_interval": timings.ping_interval, "stale_after": timings.stale_after}
        if timings.live_backoff is not None:
            kwargs["backoff"] = timings.live_backoff
        if timings.live_cooldown is not None:
            kwargs["cooldown"] = timings.live_cooldown
        kwargs["resubscribe_delay"] = timings.resubscribe_delay
        self.stream = LiveStream(
            collector.token.token,
            client=client,
            home_ids=collector.realtime_home_ids,
            on_measurement=self._on_measurement,
            on_state=self._on_state,
            **kwargs,
        )
        self._stopped = False
        self._stop_lock = asyncio.Lock()
        self.frames = 0

    async def run(self) -> None:
        for home in self.collector.realtime_home_ids():
            self.ctx.status.update(self.token_id, home, "live", state="starting")
        try:
            await self.stream.run()
        except ApiBug as exc:
            # Our subscription document was refused: retrying cannot help; the other loaders go on.
            for home in self.collector.realtime_home_ids():
                self.ctx.status.update(self.token_id, home, "live", state="failed", error=describe(exc))
            self.collector.say("error", f"live stream refused, live loader stopped: {describe(exc)}")

    async def stop(self) -> None:
        async with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            await self.stream.stop()

    def _on_measurement(self, m: LiveMeasurement) -> None:
        self.frames += 1
        self.ctx.writer.add(self.token_id, m)
        self.ctx.sink.emit(
            LiveSample(self.token_id, m.home_id, m.timestamp, m.power, m.power_production, m.accumulated_consumption)
        )

    def _on_state(self, state: str, detail: str) -> None:
        self.ctx.sink.emit(StreamStateChanged(self.token_id, state, detail))  # type: ignore[arg-type]
        loader_state = _LOADER_STATE.get(state)
        if loader_state is None:
            return
        error = detail if loader_state == "backing_off" and detail else None
        for home in self.collector.realtime_home_ids():
            self.ctx.status.update(self.token_id, home, "live", state=loader_state, error=error)
