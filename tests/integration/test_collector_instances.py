"""Several instances on one database: exactly one owner per token at every sample, takeover after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

import asyncpg

from tests.fixtures.sim import SimulatorFactory
from tests.fixtures.waiting import wait_until
from tests.integration.collector_support import count, fast_config, start_manager, stop_manager
from tests.integration.test_headless_cli import headless_env
from tibber_tui.db import leases

TOKENS = [f"multi-{i:02d}-0123456789abcdef0123456789abcdef-{i:04d}" for i in range(20)]


async def insert_tokens(pool: asyncpg.Pool) -> dict[str, int]:
    ids = {}
    for i, token in enumerate(TOKENS):
        ids[token] = await pool.fetchval(
            "INSERT INTO tibber.tibber_tokens (token, label) VALUES ($1, $2) RETURNING id", token, f"multi {i}"
        )
    return ids


async def test_three_instances_twenty_tokens_one_owner_each(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory
) -> None:
    sim = await make_simulator(history_days=1, rate_limit=None, frame_interval=0.25)
    for token in TOKENS:
        sim.add_token(token, 1)
    # Three instances in one busy test process: a TTL of 6 s leaves 2 s to stop a token whose renewal was late.
    config = fast_config(database_url, sim.url, history_limit_days=1, price_history_days=1, lease_ttl=6.0)
    started = [await start_manager(config, database_url) for _ in range(3)]
    managers = [m for m, _sink, _task in started]
    try:
        ids = await insert_tokens(pool)
        violations: list[str] = []

        async def sample() -> set[int]:
            owned = [m.collected_tokens() for m in managers]
            for token, token_id in ids.items():
                owners = sum(token_id in o for o in owned)
                if owners > 1:
                    violations.append(f"token {token_id} collected by {owners} instances")
                if sim.stats.open_sockets(token) > 1:
                    violations.append(f"token {token_id} has {sim.stats.open_sockets(token)} sockets")
            return set().union(*owned)

        async def all_collected() -> bool:
            return await sample() == set(ids.values())

        await wait_until(all_collected, 20, interval=0.05, what="all 20 tokens collected")
        for _ in range(40):  # keep sampling while leases renew: nothing moves, never two owners
            await sample()
            await asyncio.sleep(0.05)
        assert violations == []
        rows = await leases.lease_owners(pool)
        assert {r.token_id for r in rows if not r.expired} == set(ids.values())
        assert {r.owner for r in rows} <= {m.instance_id for m in managers}
        # Claims are spread by the fair share: nobody holds everything.
        assert max(len(m.collected_tokens()) for m in managers) < 20

        # The busiest instance stops gracefully: leases released, the others take its tokens at once.
        index = max(range(3), key=lambda i: len(managers[i].collected_tokens()))
        moved = managers[index].collected_tokens()
        others = [m for i, m in enumerate(managers) if i != index]
        await stop_manager(started[index][2])
        begin = time.monotonic()

        async def taken_over() -> bool:
            await sample()
            return moved <= set().union(*(m.collected_tokens() for m in others))

        await wait_until(taken_over, 10, interval=0.05, what="released tokens taken over")
        assert violations == []
        print(f"takeover after graceful stop: {time.monotonic() - begin:.2f} s")
    finally:
        for _m, _sink, task in started:
            await stop_manager(task)


async def test_kill_9_of_one_instance_tokens_collected_again(
    database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory, tmp_path: Path
) -> None:
    sim = await make_simulator(history_days=1, rate_limit=None, frame_interval=0.25)
    for token in TOKENS:
        sim.add_token(token, 1)
    # The default budget (80 requests / 5 min per process) would make a takeover of 10 tokens wait for the
    # window; the test's simulator has no limit, so the instances need none either.
    env = headless_env(
        database_url, sim.url, tmp_path, TIBBER_TUI_HISTORY_LIMIT_DAYS="1", TIBBER_TUI_RATE_LIMIT_REQUESTS="2000"
    )
    quiet = asyncio.subprocess.DEVNULL
    command = (sys.executable, "-m", "tibber_tui.cli", "--no-ui")
    procs = [await asyncio.create_subprocess_exec(*command, env=env, stdout=quiet, stderr=quiet) for _ in range(2)]
    try:
        await wait_until(lambda: _instances(pool, 2), 15, what="two instances registered")
        ids = await insert_tokens(pool)

        async def all_owned() -> bool:
            rows = await leases.lease_owners(pool)
            return {r.token_id for r in rows if r.owner is not None and not r.expired} == set(ids.values())

        await wait_until(all_owned, 20, what="all tokens leased")
        await wait_until(
            lambda: _at_least(pool, "SELECT count(DISTINCT home_id) FROM tibber.real_time_measurements", 20),
            20,
            what="live rows of all tokens",
        )
        owner_pid = {r["id"]: r["pid"] for r in await pool.fetch("SELECT id, pid FROM tibber.instances")}
        rows = await leases.lease_owners(pool)
        by_pid: dict[int, set[int]] = {}
        for r in rows:
            if r.owner is not None:
                by_pid.setdefault(owner_pid[r.owner], set()).add(r.token_id)
        victim = max(procs, key=lambda p: len(by_pid.get(p.pid, set())))
        survivor = next(p for p in procs if p is not victim)
        orphaned = by_pid[victim.pid]
        assert orphaned

        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        killed_at = await pool.fetchval("SELECT now()")
        started = time.monotonic()
        homes = {t: sim.tokens[t][0].id for t in TOKENS}
        orphan_homes = [homes[t] for t, i in ids.items() if i in orphaned]

        async def collected_again() -> bool:
            for token in TOKENS:
                assert sim.stats.open_sockets(token) <= 1
            fresh = await count(
                pool,
                "SELECT count(DISTINCT home_id) FROM tibber.real_time_measurements WHERE home_id = ANY($1) "
                'AND "timestamp" > $2',
                orphan_homes,
                killed_at,
            )
            return fresh == len(orphan_homes)

        await wait_until(collected_again, 30, interval=0.2, what="orphaned tokens collected again")
        elapsed = time.monotonic() - started
        survivor_id = next(i for i, pid in owner_pid.items() if pid == survivor.pid)
        rows = await leases.lease_owners(pool)
        assert all(r.owner == survivor_id for r in rows if r.token_id in orphaned)
        print(f"kill -9 takeover: {elapsed:.1f} s for {len(orphaned)} tokens")
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 8)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def _instances(pool: asyncpg.Pool, n: int) -> bool:
    return await count(pool, "SELECT count(*) FROM tibber.instances") >= n


async def _at_least(pool: asyncpg.Pool, sql: str, n: int) -> bool:
    return await count(pool, sql) >= n


async def test_observer_never_claims(database_url: str, pool: asyncpg.Pool, make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(history_days=1)
    sim.add_token(TOKENS[0], 1)
    config = fast_config(database_url, sim.url, history_limit_days=1)
    observer, _sink, observer_task = await start_manager(config, database_url, observe=True)
    try:
        await pool.execute("INSERT INTO tibber.tibber_tokens (token) VALUES ($1)", TOKENS[0])
        await asyncio.sleep(2.5)  # several claim rounds of a collecting instance would have passed
        assert observer.collected_tokens() == set()
        assert sim.stats.requests.get(TOKENS[0], 0) == 0
        assert all(o.owner is None for o in await leases.lease_owners(pool))
        modes = [r["mode"] for r in await pool.fetch("SELECT mode FROM tibber.instances")]
        assert modes == ["observer"]
        # A collecting instance joins and takes the token; the observer still holds nothing.
        collector, _sink2, collector_task = await start_manager(config, database_url)
        try:
            await wait_until(lambda: collector.collected_tokens() != set(), 10, what="collector claims")
            assert observer.collected_tokens() == set()
        finally:
            await stop_manager(collector_task)
    finally:
        await stop_manager(observer_task)
