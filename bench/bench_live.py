"""How many live frames one LiveStream parses and hands on per second, on one core.

Two figures:
1. the frame path alone: realistic frames (the simulator's own) fed as raw text through
   ``LiveStream.handle_text`` (JSON, dispatch, parse, hand-off), no network;
2. end to end: a simulator in a child process (pinned to another core when there is one) streams 10 ms
   frames for many homes over a real websocket to one LiveStream (pinned to core 0); the figure is frames
   handed on per CPU-second of the client process, plus the wall-clock rate received.

Run: ``uv run python bench/bench_live.py [--homes 100] [--seconds 5] [--frames 50000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import time
from datetime import UTC, datetime
from typing import Any

from tibber_tui.simulator import SimConfig, Simulator
from tibber_tui.tibber.budget import RateBudget
from tibber_tui.tibber.client import TibberClient
from tibber_tui.tibber.live import LiveStream
from tibber_tui.tibber.models import LiveMeasurement

TOKEN = "bench-live-token-0123456789"


def pin(core: int) -> None:
    """Run this process on one core (when the OS allows it and the core exists)."""
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def raw_frames(count: int, homes: int) -> tuple[list[str], dict[str, str]]:
    """``count`` ``next`` messages as the simulator sends them, round-robin over ``homes`` subscriptions."""
    sim = Simulator(SimConfig(seed=7))
    sim_homes = sim.add_token(TOKEN, homes, producing=homes // 3)
    model = sim.data.live_model
    subscriptions = {str(i + 1): home.id for i, home in enumerate(sim_homes)}
    start = datetime(2025, 11, 3, 12, 0, tzinfo=UTC).timestamp()
    texts = []
    for n in range(count):
        sub_id = str(n % homes + 1)
        frame = model.values(sim.data.home(subscriptions[sub_id]), start + n * 0.01)
        message = {"id": sub_id, "type": "next", "payload": {"data": {"liveMeasurement": frame}}}
        texts.append(json.dumps(message, separators=(",", ":")))
    return texts, subscriptions


async def bench_frame_path(count: int) -> float:
    texts, subscriptions = raw_frames(count, 50)
    received = 0

    def on_measurement(_m: LiveMeasurement) -> None:
        nonlocal received
        received += 1

    client = TibberClient(TOKEN, api_url="http://127.0.0.1:9/unused", budget=RateBudget())
    stream = LiveStream(
        TOKEN, client=client, home_ids=lambda: list(subscriptions.values()), on_measurement=on_measurement
    )
    # Bench-only: bind the subscription ids the frames use, as a connected stream would have.
    stream._subscriptions.by_id.update(subscriptions)
    started = time.perf_counter()
    for text in texts:
        stream.handle_text(text)
    elapsed = time.perf_counter() - started
    await client.close()
    assert received == count and stream.stats.malformed == 0, (received, stream.stats.malformed)
    return count / elapsed


def run_simulator(homes: int, interval: float, urls: Any, stop: Any) -> None:
    """Child process: a simulator streaming ``homes`` homes at ``interval``."""
    pin(1)

    async def main() -> None:
        sim = Simulator(SimConfig(frame_interval=interval, rate_limit=None))
        sim.add_token(TOKEN, homes)
        await sim.start("127.0.0.1", 0)
        urls.put(sim.url)
        await asyncio.to_thread(stop.wait)
        await sim.stop()

    asyncio.run(main())


async def bench_end_to_end(url: str, homes: int, seconds: float) -> tuple[float, float, int]:
    received = 0
    warm = asyncio.Event()  # connected and every home streaming

    def on_measurement(_m: LiveMeasurement) -> None:
        nonlocal received
        received += 1
        if received == homes * 5:
            warm.set()

    client = TibberClient(TOKEN, api_url=url, budget=RateBudget(limit=1000, window=1.0))
    viewer = await client.viewer()
    ids = [h.id for h in viewer.homes]
    stream = LiveStream(TOKEN, client=client, home_ids=lambda: ids, on_measurement=on_measurement)
    task = asyncio.create_task(stream.run())
    await asyncio.wait_for(warm.wait(), 30)
    start_count, start_wall, start_cpu = received, time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    frames = received - start_count
    wall = time.perf_counter() - start_wall
    cpu = time.process_time() - start_cpu
    await stream.stop()
    await task
    await client.close()
    return frames / cpu if cpu > 0 else float("inf"), frames / wall, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=100, help="homes on the one token (one subscription each)")
    parser.add_argument("--interval", type=float, default=0.01, help="simulator frame interval in seconds")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--frames", type=int, default=50_000, help="frames for the frame-path figure")
    args = parser.parse_args()
    pin(0)

    rate = asyncio.run(bench_frame_path(args.frames))
    print(f"frame path (JSON + dispatch + parse + hand-off), 1 core: {rate:,.0f} frames/s over {args.frames:,} frames")

    ctx = mp.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=run_simulator, args=(args.homes, args.interval, urls, stop), daemon=True)
    child.start()
    try:
        url = urls.get(timeout=30)
        per_cpu, per_wall, frames = asyncio.run(bench_end_to_end(url, args.homes, args.seconds))
    finally:
        stop.set()
        child.join(10)
    offered = args.homes / args.interval
    print(
        f"end to end over a websocket ({args.homes} homes x {args.interval * 1000:.0f} ms frames = {offered:,.0f}/s "
        f"offered): {per_wall:,.0f} frames/s received, {per_cpu:,.0f} frames per CPU-second of the client "
        f"({frames:,} frames in {args.seconds:.0f} s)"
    )


if __name__ == "__main__":
    main()
