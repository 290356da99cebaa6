"""Lease SQL on a real database: claim, exclusivity, expiry on the database clock, fencing, release."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from tests.fixtures.waiting import wait_until
from tibber_tui.db import leases
from tibber_tui.db.store import Store


async def _tokens(store: Store, count: int) -> list[int]:
    return [(await store.add_token(f"lease-test-token-{i:04d}-abcdefgh", label=f"t{i}")).id for i in range(count)]


async def test_claim_is_exclusive_until_expiry_then_fenced(store: Store, pool: asyncpg.Pool) -> None:
    ids = await _tokens(store, 3)
    a, b = uuid.uuid4(), uuid.uuid4()

    first = await leases.claim_leases(pool, a, ids, ttl=0.6)
    assert sorted(lease.token_id for lease in first) == ids
    assert await leases.claim_leases(pool, b, ids, ttl=0.6) == []  # held by a

    # Renewing our own lease keeps the generation; b still gets nothing.
    gens = {lease.token_id: lease.generation for lease in first}
    renewed = await leases.renew_leases(pool, a, gens, ttl=0.6)
    assert {t: lease.generation for t, lease in renewed.items()} == gens

    await asyncio.sleep(0.8)  # expired on the database clock
    taken = await leases.claim_leases(pool, b, ids, ttl=5)
    assert sorted(lease.token_id for lease in taken) == ids
    assert all(lease.generation == gens[lease.token_id] + 1 for lease in taken)

    # a's renewal is fenced: it no longer owns any of them.
    assert await leases.renew_leases(pool, a, gens, ttl=5) == {}
    owners = {o.token_id: o.owner for o in await leases.lease_owners(pool)}
    assert owners == dict.fromkeys(ids, b)


async def test_concurrent_claims_never_share_a_token(store: Store, database_url: str) -> None:
    ids = await _tokens(store, 20)
    owners = [uuid.uuid4() for _ in range(3)]
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=2) for _ in owners]
    try:
        for _round in range(5):
            results = await asyncio.gather(
                *(leases.claim_leases(p, o, ids, ttl=30) for p, o in zip(pools, owners, strict=True))
            )
            claimed = [lease.token_id for result in results for lease in result]
            assert len(claimed) == len(set(claimed))  # nobody got a token somebody else holds
        rows = await leases.lease_owners(pools[0])
        assert sorted(r.token_id for r in rows if r.owner is not None) == ids
        assert all(r.owner in owners for r in rows)
    finally:
        for p in pools:
            await p.close()


async def test_release_deregister_and_limit(store: Store, pool: asyncpg.Pool) -> None:
    ids = await _tokens(store, 4)
    a, b = uuid.uuid4(), uuid.uuid4()
    await leases.register_instance(pool, a, host="h", pid=1, mode="headless", version="t")
    await leases.register_instance(pool, b, host="h", pid=2, mode="observer", version="t")
    assert await leases.live_collector_count(pool, 10) == 1  # observers never collect

    two = await leases.claim_leases(pool, a, ids, ttl=30, limit=2)
    assert len(two) == 2
    await leases.release_leases(pool, a, [two[0].token_id])
    again = await leases.claim_leases(pool, b, ids, ttl=30)
    assert two[0].token_id in {lease.token_id for lease in again}
    assert two[1].token_id not in {lease.token_id for lease in again}

    await leases.deregister_instance(pool, a)
    assert await leases.heartbeat(pool, a) is False
    freed = await leases.claim_leases(pool, b, ids, ttl=30)
    assert sorted(lease.token_id for lease in freed) == ids

    # A deleted token takes its lease row with it.
    await store.remove_token(ids[0])
    assert ids[0] not in {o.token_id for o in await leases.lease_owners(pool)}
    assert ids[0] not in {lease.token_id for lease in await leases.claim_leases(pool, b, ids, ttl=30)}


async def test_keeper_gives_up_before_expiry_when_renewals_fail(store: Store, database_url: str) -> None:
    from tibber_tui.collector.events import DatabaseStateChanged, ListSink
    from tibber_tui.collector.lease_keeper import LeaseKeeper

    (token_id,) = await _tokens(store, 1)
    owner = uuid.uuid4()
    keeper_pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    lost: list[tuple[int, float]] = []
    sink = ListSink()
    keeper = LeaseKeeper(
        keeper_pool, owner, sink, ttl=3.0, renew=1.0, on_lost=lambda t, reason: lost.append((t, keeper.now()))
    )
    await leases.register_instance(keeper_pool, owner, host="h", pid=1, mode="headless", version="t")
    sent = keeper.now()  # the keeper's own clock (it keeps counting across a suspend)
    (lease,) = await leases.claim_leases(keeper_pool, owner, [token_id], ttl=3.0)
    keeper.add(lease, sent)
    runner = asyncio.create_task(keeper.run())
    try:
        await asyncio.sleep(2.5)  # renewals succeed: nothing lost although the first TTL has nearly passed
        assert lost == [] and token_id in keeper.held
        assert keeper.now() < keeper.held[token_id].confirmed_until - keeper.stop_budget
        last_confirmed = keeper.held[token_id].confirmed_until - 3.0
        await keeper_pool.close()  # from now on every renewal fails
        await wait_until(lambda: bool(lost), 5, interval=0.02, what="lease given up")
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert [t for t, _ in lost] == [token_id]
    # Given up at least a second before the lease (confirmed_until on the database clock) could expire.
    assert lost[0][1] <= last_confirmed + 3.0 - 0.9
    assert any(isinstance(e, DatabaseStateChanged) and not e.connected for e in sink.events)
