"""Store: tokens, homes, idempotent upserts, duplicate keys, status reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from tibber_tui.db.store import Store, TokenExists, TokenNotFound
from tibber_tui.tibber.models import Address, Consumption, Home, LiveMeasurement, Price, Production

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def home(home_id: str = "h1", **kw: object) -> Home:
    base = Home(
        id=home_id,
        nickname=f"Home {home_id}",
        time_zone="Europe/Oslo",
        address=Address("Storgata 1", "0155", "Oslo", "NO", "59.91", "10.75"),
        realtime_enabled=True,
        has_production=False,
        subscription_status="running",
        currency="NOK",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def consumption(i: int, value: float | None = 1.5, cost: float | None = 2.0) -> Consumption:
    start = T0 + timedelta(hours=i)
    return Consumption(start, start + timedelta(hours=1), value, "kWh", cost, 1.2, 1.5, "NOK")


def live(i: int, home_id: str = "h1", **values: float | None) -> LiveMeasurement:
    return LiveMeasurement(home_id=home_id, timestamp=T0 + timedelta(seconds=2 * i), **values)  # type: ignore[arg-type]


async def _dump(pool: asyncpg.Pool, table: str) -> list[tuple[object, ...]]:
    rows = await pool.fetch(f'SELECT * FROM tibber.{table} ORDER BY home_id, "timestamp"')
    # id and bookkeeping times aside, the table content.
    skip = {"id", "fetched_at", "updated_at"}
    return [tuple(v for k, v in r.items() if k not in skip) for r in rows]


async def test_token_crud(store: Store) -> None:
    a = await store.add_token("tok-aaaaaaaaaaaa", "first")
    b = await store.add_token("tok-bbbbbbbbbbbb", None, active=False)
    with pytest.raises(TokenExists) as exists:
        await store.add_token("tok-aaaaaaaaaaaa", "again")
    assert exists.value.token_id == a.id
    assert [t.id for t in await store.list_tokens()] == [a.id, b.id]
    assert [t.id for t in await store.active_tokens()] == [a.id]
    assert (await store.set_token_active(b.id, True)).active
    assert {t.id for t in await store.active_tokens()} == {a.id, b.id}
    assert await store.get_token(a.id) == a
    await store.remove_token(a.id)
    assert await store.get_token(a.id) is None
    with pytest.raises(TokenNotFound):
        await store.remove_token(a.id)
    with pytest.raises(TokenNotFound):
        await store.set_token_active(999, True)


async def test_homes_upsert_and_links(store: Store, pool: asyncpg.Pool) -> None:
    t1 = await store.add_token("tok-one-123456")
    t2 = await store.add_token("tok-two-123456")
    assert await store.upsert_homes(t1.id, [home("h1"), home("h2")]) == 2
    assert await store.upsert_homes(t1.id, [home("h1"), home("h2")]) == 0  # unchanged: nothing written
    assert await store.upsert_homes(t2.id, [home("h2", nickname="Cabin")]) == 1
    assert [h.id for h in await store.homes_of_token(t1.id)] == ["h2", "h1"]  # "Cabin" sorts before "Home h1"
    # The token now sees only h1: its link to h2 goes, h2 stays for the other token.
    await store.upsert_homes(t1.id, [home("h1")])
    assert [h.id for h in await store.homes_of_token(t1.id)] == ["h1"]
    assert [h for h in await store.homes_of_token(t2.id)] == [home("h2", nickname="Cabin")]
    await store.remove_token(t2.id)
    assert await pool.fetchval("SELECT count(*) FROM tibber.token_homes WHERE token_id = $1", t2.id) == 0


async def test_upserting_twice_gives_the_same_table(store: Store, pool: asyncpg.Pool) -> None:
    t = await store.add_token("tok-twice-123456")
    await store.upsert_homes(t.id, [home("h1")])
    hours = [consumption(i) for i in range(48)]
    prices = [Price(T0 + timedelta(minutes=15 * i), 1.0 + i, 0.8, 0.2 + i, "NOK", "NORMAL") for i in range(96)]
    production = [
        Production(T0 + timedelta(hours=i), T0 + timedelta(hours=i + 1), 0.5, "kWh", 0.3, 0.6, 0.75, "NOK")
        for i in range(24)
    ]
    frames = [live(i, power=100.0 + i, accumulated_consumption=0.1 * i, signal_strength=-70) for i in range(500)]

    assert await store.upsert_consumption("h1", hours) == 48
    assert await store.upsert_prices("h1", prices) == 96
    assert await store.upsert_production("h1", production) == 24
    assert await store.upsert_live(frames) == 500
    first = {t: await _dump(pool, t) for t in ("consumption", "prices", "production", "real_time_measurements")}

    assert await store.upsert_consumption("h1", hours) == 0
    assert await store.upsert_prices("h1", prices) == 0
    assert await store.upsert_production("h1", production) == 0
    assert await store.upsert_live(frames) == 0
    second = {t: await _dump(pool, t) for t in first}
    assert second == first


async def test_revisions_update_changed_rows_only_and_null_never_erases(store: Store, pool: asyncpg.Pool) -> None:
    t = await store.add_token("tok-revise-123456")
    await store.upsert_homes(t.id, [home("h1")])
    # The newest hours come unsettled (null), are revised later.
    assert await store.upsert_consumption("h1", [consumption(0), consumption(1, None, None)]) == 2
    assert await store.upsert_consumption("h1", [consumption(0), consumption(1, 3.25, 4.0)]) == 1
    assert await store.upsert_consumption("h1", [consumption(0, None, None)]) == 0
    rows = await pool.fetch('SELECT consumption, cost FROM tibber.consumption ORDER BY "timestamp"')
    assert [(r["consumption"], r["cost"]) for r in rows] == [(1.5, 2.0), (3.25, 4.0)]
    assert await store.history_bounds("h1", "consumption") == (T0, T0 + timedelta(hours=1))
    assert await store.history_bounds("h1", "production") == (None, None)
    with pytest.raises(ValueError):
        await store.history_bounds("h1", "prices; drop table x")


async def test_duplicate_keys_in_one_batch(store: Store, pool: asyncpg.Pool) -> None:
    t = await store.add_token("tok-dupes-123456")
    await store.upsert_homes(t.id, [home("h1")])
    oslo = timedelta(hours=2)
    same_instant_other_offset = (T0 + oslo).astimezone(timezone(oslo))
    prices = [
        Price(T0 + timedelta(hours=2), 1.0, 0.8, 0.2, "NOK", "CHEAP"),
        Price(same_instant_other_offset, 2.0, 1.6, 0.4, "NOK", "EXPENSIVE"),  # same instant: last wins
    ]
    assert await store.upsert_prices("h1", prices) == 1
    row = await pool.fetchrow("SELECT total, level FROM tibber.prices")
    assert (row["total"], row["level"]) == (2.0, "EXPENSIVE")

    # Two live frames with the same timestamp merge: later values win, their nulls keep earlier values.
    frames = [live(0, power=100.0, voltage_phase1=230.0), live(0, power=120.0, current_l1=1.5)]
    assert await store.upsert_live(frames) == 1
    row = await pool.fetchrow(
        "SELECT power, voltage_phase1, current_l1, power_production FROM tibber.real_time_measurements"
    )
    assert tuple(row) == (120.0, 230.0, 1.5, None)
    # A later frame without phase values keeps them; a new value changes the row.
    assert await store.upsert_live([live(0, power=120.0)]) == 0
    assert await store.upsert_live([live(0, power_production=5.0)]) == 1


async def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        await store.upsert_live([LiveMeasurement("h1", datetime(2025, 1, 1, 12, 0), power=1.0)])


async def test_live_since_and_big_batches(store: Store) -> None:
    frames = [live(i, "h1", power=float(i)) for i in range(25_000)] + [live(i, "h2", power=-1.0) for i in range(10)]
    assert await store.upsert_live(frames) == 25_010  # staged through COPY
    newer = await store.live_since(["h1"], T0 + timedelta(seconds=2 * 24_990))
    assert [m.power for m in newer] == [float(i) for i in range(24_991, 25_000)]
    assert newer[0] == frames[24_991]
    assert len(await store.live_since(["h1", "h2"], T0 - timedelta(seconds=1), limit=15)) == 15


@pytest.mark.parametrize("size", [10, 3000], ids=["arrays", "staged-copy"])
async def test_upsert_paths_are_idempotent_and_keep_known_values(store: Store, pool: asyncpg.Pool, size: int) -> None:
    frames = [live(i, "h1", power=float(i)) for i in range(size)]
    assert await store.upsert_live(frames) == size
    assert await store.upsert_live(frames) == 0  # same rows again: nothing rewritten
    # A later frame for the same instants: new power for the first half, NULL power for the rest.
    later = [live(i, "h1", power=float(i) + 0.5 if i < size // 2 else None) for i in range(size)]
    assert await store.upsert_live(later + later[:3]) == size // 2  # duplicates in a batch are merged
    rows = await pool.fetch("SELECT power FROM tibber.real_time_measurements WHERE home_id = 'h1' ORDER BY 1")
    expected = sorted([float(i) + 0.5 for i in range(size // 2)] + [float(i) for i in range(size // 2, size)])
    assert [r["power"] for r in rows] == expected  # a NULL never erased a stored value


async def test_loader_status_and_snapshot(store: Store, pool: asyncpg.Pool) -> None:
    t = await store.add_token("tok-status-9876", "villa")
    await store.upsert_homes(t.id, [home("h1")])
    await store.upsert_live([live(1, power=1.0)])
    await store.set_loader_status(
        "h1",
        "consumption",
        token_id=t.id,
        state="backfilling",
        rows_written=10,
        last_success=T0,
        next_run=None,
        last_error=None,
        owner="inst-1",
    )
    await store.set_loader_status(
        "h1",
        "consumption",
        token_id=t.id,
        state="failed",
        rows_written=12,
        last_success=T0,
        next_run=T0 + timedelta(hours=1),
        last_error="boom",
        owner="inst-1",
    )
    (row,) = await store.loader_statuses()
    assert (row.state, row.rows_written, row.last_error, row.next_run) == (
        "failed",
        12,
        "boom",
        T0 + timedelta(hours=1),
    )
    await pool.execute(
        "INSERT INTO tibber.instances (id, host, pid, mode, version) "
        "VALUES ('00000000-0000-0000-0000-000000000001', 'srv', 42, 'headless', '0.1.0')"
    )
    await store.set_token_status(t.id, "failed", "invalid token")
    snap = await store.status_snapshot()
    assert snap["schema_version"] == 1
    (tok,) = snap["tokens"]
    assert tok["token"] == "…9876" and "tok-status" not in str(snap)
    assert (tok["label"], tok["state"], tok["reason"], tok["home_ids"]) == ("villa", "failed", "invalid token", ["h1"])
    assert snap["homes"][0]["newest"]["real_time_measurements"] == (T0 + timedelta(seconds=2)).isoformat()
    assert snap["loaders"][0]["state"] == "failed"
    assert snap["instances"][0]["host"] == "srv" and snap["instances"][0]["alive"] is True
    # Touching the token (e.g. re-activating it) makes the old verdict stale.
    await store.set_token_active(t.id, True)
    assert (await store.status_snapshot())["tokens"][0]["state"] is None


async def test_many_loader_statuses_in_one_statement(store: Store) -> None:
    t = await store.add_token("tok-status-batch-1234")
    rows = [
        (f"home-{i}", loader, t.id, "running", i, T0, None, None, "inst-1")
        for i in range(300)
        for loader in ("live", "prices")
    ]
    await store.set_loader_statuses(rows)
    # The same keys again (a later tick), with a duplicate in the batch: the last one wins.
    later = [
        (h, loader, t.id, "waiting", n + 1, T0, T0 + timedelta(hours=1), "boom", "inst-2")
        for h, loader, _, _, n, *_ in rows
    ]
    await store.set_loader_statuses([*later, (*later[0][:4], 999, *later[0][5:])])
    stored = {(r.home_id, r.loader): r for r in await store.loader_statuses()}
    assert len(stored) == 600
    assert stored[("home-7", "prices")].state == "waiting" and stored[("home-7", "prices")].rows_written == 8
    assert stored[("home-0", "live")].rows_written == 999
    assert {r.owner for r in stored.values()} == {"inst-2"} and {r.last_error for r in stored.values()} == {"boom"}
