"""TibberClient against the simulator over real sockets: every operation, batching, paging, nulls."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from graphql import build_schema, parse, validate

from tests.fixtures.sim import SimulatorFactory
from tibber_tui.simulator import Simulator
from tibber_tui.tibber.budget import RateBudget
from tibber_tui.tibber.client import TibberClient, default_user_agent
from tibber_tui.tibber.models import HistoryPage, HistoryRequest

TOKEN = "sim-token-0123456789abcdef"
NOW = datetime(2025, 10, 28, 10, 0, tzinfo=UTC)  # 11:00 in Oslo, two days after the 25-hour day
SCHEMA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "tibber-api" / "schema" / "tibber-schema.graphql"

ClientFactory = Callable[..., TibberClient]
T = TypeVar("T")


def utc(rows: list[T]) -> list[T]:
    """Rows with every datetime field in UTC.

    Needed to compare with ``sim.data``: it uses ZoneInfo datetimes, and Python never calls a time inside a
    DST fold (2025-10-26 02:00-03:00 in Oslo) equal to the same instant in another tzinfo (PEP 495).
    """
    return [
        dataclasses.replace(
            row,  # type: ignore[type-var]
            **{
                f.name: getattr(row, f.name).astimezone(UTC)
                for f in dataclasses.fields(row)  # type: ignore[arg-type]
                if isinstance(getattr(row, f.name), datetime)
            },
        )
        for row in rows
    ]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[TibberClient] = []

    def make(sim: Simulator, token: str = TOKEN, **options: object) -> TibberClient:
        options.setdefault("budget", RateBudget(limit=1000, window=1.0))
        options.setdefault("retry_delay", lambda attempt: 0.01)
        client = TibberClient(token, api_url=sim.url, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def sim(make_simulator: SimulatorFactory) -> Simulator:
    return await make_simulator(clock=lambda: NOW)


async def test_viewer_lists_homes_with_websocket_url_and_user_agent(sim: Simulator, make_client: ClientFactory) -> None:
    homes = sim.add_token(TOKEN, 3, producing=1)
    viewer = await make_client(sim).viewer()
    assert viewer.websocket_url == sim.ws_url
    assert [h.id for h in viewer.homes] == [h.id for h in homes]
    for got, expected in zip(viewer.homes, homes, strict=True):
        assert got.nickname == expected.nickname
        assert got.time_zone == expected.time_zone
        assert got.address.address1 == expected.address1
        assert got.address.city == expected.city
        assert got.address.postal_code == expected.postal_code
        assert got.realtime_enabled == expected.realtime
        assert got.has_production == expected.producing
    assert sim.stats.requests[TOKEN] == 1
    assert sim.stats.user_agents[-1] == default_user_agent()
    assert default_user_agent().startswith("tibber-tui/")


async def test_prices_of_all_homes_in_one_request(sim: Simulator, make_client: ClientFactory) -> None:
    homes = sim.add_token(TOKEN, 3)
    prices = await make_client(sim).prices([h.id for h in homes])
    assert sim.stats.requests[TOKEN] == 1
    for home in homes:
        local_today = NOW.astimezone(ZoneInfo(home.time_zone)).date()
        days = prices[home.id]
        assert utc(days.today) == utc(sim.data.prices(home.id, local_today))
        assert len(days.today) == 96
        assert days.tomorrow == []  # 11:00 local: not published before 13:00
        assert days.current is not None
        assert days.current.starts_at <= NOW < days.current.starts_at + timedelta(minutes=15)
        assert days.errors == []


async def test_prices_on_a_dst_day_and_tomorrow_after_publish(
    make_simulator: SimulatorFactory, make_client: ClientFactory
) -> None:
    at = datetime(2025, 10, 25, 14, 0, tzinfo=UTC)  # 16:00 in Oslo on the day before the 25-hour day
    sim = await make_simulator(clock=lambda: at)
    (home,) = sim.add_token(TOKEN, 1)
    days = (await make_client(sim).prices([home.id]))[home.id]
    assert len(days.today) == 96
    assert len(days.tomorrow) == 100  # 2025-10-26 has 25 hours
    assert utc(days.tomorrow) == utc(sim.data.prices(home.id, date(2025, 10, 26)))
    starts = [p.starts_at for p in days.tomorrow]
    assert len(set(starts)) == 100 and starts == sorted(starts)


async def test_price_range_pages_backwards(sim: Simulator, make_client: ClientFactory) -> None:
    homes = sim.add_token(TOKEN, 2)
    client = make_client(sim)
    ids = [h.id for h in homes]
    first = await client.price_range(ids, last=96)
    second = await client.price_range(ids, last=96, before=first[ids[0]].start)
    assert sim.stats.requests[TOKEN] == 2
    for home in homes:
        newer, older = first[home.id], second[home.id]
        assert len(newer.prices) == 96 and len(older.prices) == 96
        assert newer.has_previous and older.has_previous
        assert older.prices[-1].starts_at + timedelta(minutes=15) == newer.prices[0].starts_at
        combined = older.prices + newer.prices
        tz = ZoneInfo(home.time_zone)
        days = sorted({p.starts_at.astimezone(tz).date() for p in combined})
        expected = {p.starts_at: p for day in days for p in utc(sim.data.prices(home.id, day))}
        for price in utc(combined):
            assert price == expected[price.starts_at]


async def page_back(
    client: TibberClient, homes: list[tuple[str, bool]], *, last: int, until: datetime | None = None
) -> tuple[dict[str, list[HistoryPage]], int]:
    """Page every home backwards until the API has no more (or ``until``); returns pages and request count."""
    pages: dict[str, list[HistoryPage]] = {home_id: [] for home_id, _ in homes}
    before: dict[str, datetime | None] = {home_id: None for home_id, _ in homes}
    active = dict(homes)
    requests = 0
    while active:
        answer = await client.history([HistoryRequest(h, before[h], last, p) for h, p in active.items()])
        requests += 1
        for home_id, page in answer.items():
            pages[home_id].append(page)
            before[home_id] = page.consumption_start
            done = not page.has_previous or page.consumption_start is None
            if done or (until is not None and page.consumption_start is not None and page.consumption_start <= until):
                del active[home_id]
    return pages, requests


async def test_history_pages_across_the_dst_day_without_gaps(sim: Simulator, make_client: ClientFactory) -> None:
    homes = sim.add_token(TOKEN, 3, producing=1)
    oslo = next(h for h in homes if h.time_zone == "Europe/Oslo")
    client = make_client(sim)
    start = datetime(2025, 10, 25, tzinfo=ZoneInfo("Europe/Oslo"))
    pages, requests = await page_back(client, [(h.id, h.producing) for h in homes], last=20, until=start)
    # all homes and both series of each page in ONE request
    assert sim.stats.requests[TOKEN] == requests
    assert requests == len(pages[oslo.id]) >= 4
    rows = sorted((c for page in pages[oslo.id] for c in page.consumption), key=lambda c: c.from_)
    instants = [c.from_ for c in rows]
    assert len(set(instants)) == len(instants), "a page boundary repeated an hour"
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(instants)), "gap between pages"
    oslo_tz = ZoneInfo("Europe/Oslo")
    dst_day = [c for c in rows if c.from_.astimezone(oslo_tz).date() == date(2025, 10, 26)]
    assert len(dst_day) == 25
    expected = sim.data.consumption(oslo.id, rows[0].from_, rows[-1].to, as_of=NOW)
    assert utc(rows) == utc(expected)
    for home in homes:
        production = sorted((p for page in pages[home.id] for p in (page.production or [])), key=lambda p: p.from_)
        if home.producing:
            assert len(production) == sum(len(page.consumption) for page in pages[home.id])
            expected_production = sim.data.production(home.id, production[0].from_, production[-1].to, as_of=NOW)
            assert utc(production) == utc(expected_production)
        else:
            assert all(page.production is None for page in pages[home.id])


async def test_recent_nulls_are_kept_as_none(sim: Simulator, make_client: ClientFactory) -> None:
    homes = sim.add_token(TOKEN, 6)
    answer = await make_client(sim).history([HistoryRequest(h.id, None, 24, False) for h in homes])
    nulls = 0
    for home in homes:
        rows = answer[home.id].consumption
        assert utc(rows) == utc(sim.data.consumption(home.id, rows[0].from_, rows[-1].to, as_of=NOW))
        for row in rows:
            if row.consumption is None:
                nulls += 1
                assert row.cost is None
    assert nulls > 0, "the simulator serves some late (null) hours; none were seen"


async def test_backfill_takes_ceil_hours_over_744_requests(
    make_simulator: SimulatorFactory, make_client: ClientFactory
) -> None:
    sim = await make_simulator(clock=lambda: NOW, history_days=60)
    homes = sim.add_token(TOKEN, 3, producing=1)
    pages, requests = await page_back(make_client(sim), [(h.id, h.producing) for h in homes], last=744)
    for home in homes:
        rows = [c for page in pages[home.id] for c in page.consumption]
        hours = len(sim.data.consumption(home.id, NOW - timedelta(days=400), NOW + timedelta(days=1)))
        assert len(rows) == hours
        assert len({r.from_ for r in rows}) == hours
    assert requests == math.ceil(hours / 744)
    assert sim.stats.requests[TOKEN] == requests


async def test_malformed_node_is_reported_and_the_rest_kept(sim: Simulator, make_client: ClientFactory) -> None:
    bad, good = sim.add_token(TOKEN, 2, producing=2)
    sim.faults.malformed_node(bad.id, "from")
    answer = await make_client(sim).history([HistoryRequest(h.id, None, 10, True) for h in (bad, good)])
    page = answer[bad.id]
    assert len(page.errors) >= 1
    assert {e.field for e in page.errors} == {"from"}
    assert all(e.path.startswith(f"viewer.home[{bad.id}].") for e in page.errors)
    assert len(page.consumption) + len([e for e in page.errors if ".consumption." in e.path]) == 10
    assert len(page.consumption) >= 9
    assert answer[good.id].errors == [] and len(answer[good.id].consumption) == 10


async def test_every_document_sent_is_valid_against_the_real_schema(sim: Simulator, make_client: ClientFactory) -> None:
    if not SCHEMA_FILE.parent.is_dir():
        pytest.skip("the real Tibber schema folder is absent")
    homes = sim.add_token(TOKEN, 2, producing=1)
    client = make_client(sim)
    ids = [h.id for h in homes]
    await client.viewer()
    await client.prices(ids)
    await client.price_range(ids)
    await client.price_range(ids, before=NOW - timedelta(days=7), resolution="HOURLY", last=744)
    await client.history([HistoryRequest(h.id, None, 5, h.producing) for h in homes])
    await client.history([HistoryRequest(h.id, NOW - timedelta(days=3), 5, h.producing) for h in homes])
    schema = build_schema(SCHEMA_FILE.read_text())
    sent = sim.stats.queries[TOKEN]
    assert len(sent) == 6
    for document in sent:
        assert validate(schema, parse(document)) == [], document
