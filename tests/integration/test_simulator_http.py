"""The simulator's HTTP API over real sockets: shapes, paging, prices, auth and errors."""

from __future__ import annotations

import base64
import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.fixtures.sim import FIXED_NOW, SimulatorFactory, gql
from tibber_tui.simulator import SimHome, Simulator

OSLO = ZoneInfo("Europe/Oslo")
HOMES_QUERY = """
{ viewer { name websocketSubscriptionUrl homes {
    id appNickname timeZone
    address { address1 postalCode city country latitude longitude }
    features { realTimeConsumptionEnabled }
    meteringPointData { productionEan }
    currentSubscription { status }
} } }"""

HISTORY_QUERY = """
query ($id: ID!, $before: String) { viewer { home(id: $id) {
  consumption(resolution: HOURLY, last: 744, before: $before) {
    pageInfo { startCursor endCursor hasPreviousPage hasNextPage count currency totalCost totalConsumption filtered }
    nodes { from to consumption consumptionUnit cost unitPrice unitPriceVAT currency }
  }
} } }"""

PRICES_QUERY = """
query { viewer { homes { id currentSubscription { priceInfo(resolution: QUARTER_HOURLY) {
  current { total energy tax startsAt currency level }
  today { total startsAt level } tomorrow { total startsAt level }
} } } } }"""


def cursor(moment: datetime) -> str:
    return base64.b64encode(moment.isoformat(timespec="milliseconds").encode()).decode()


async def test_homes_query_has_tibbers_shape(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW)
    homes = sim.add_token("token-a", 3, producing=1)
    status, body = await gql(sim, HOMES_QUERY, "token-a")
    assert status == 200 and "errors" not in body
    viewer = body["data"]["viewer"]
    assert viewer["websocketSubscriptionUrl"] == sim.ws_url
    assert [h["id"] for h in viewer["homes"]] == [h.id for h in homes]
    first = viewer["homes"][0]
    assert first["timeZone"] == homes[0].time_zone
    assert first["address"] == {"address1": homes[0].address1, "postalCode": homes[0].postal_code,
                                "city": homes[0].city, "country": homes[0].country, "latitude": None,
                                "longitude": None}  # fmt: skip
    assert first["features"] == {"realTimeConsumptionEnabled": True}
    assert [h["meteringPointData"]["productionEan"] is not None for h in viewer["homes"]] == [True, False, False]
    assert first["currentSubscription"] == {"status": "running"}
    assert sim.stats.requests["token-a"] == 1
    assert sim.stats.queries["token-a"] == [HOMES_QUERY]
    assert sim.stats.user_agents == ["tibber-tui-tests/1.0"]


async def test_aliases_fragments_and_variables_are_executed(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW)
    homes = sim.add_token("t", 2)
    query = """
    fragment Node on Consumption { from kwh: consumption }
    query ($a: ID!, $b: ID!) { viewer {
      first: home(id: $a) { c: consumption(resolution: HOURLY, last: 2) { nodes { ...Node } } }
      second: home(id: $b) { c: consumption(resolution: HOURLY, last: 1) { nodes { ... on Consumption { to } } } }
    } }"""
    status, body = await gql(sim, query, "t", {"a": homes[0].id, "b": homes[1].id})
    assert status == 200, body
    assert len(body["data"]["viewer"]["first"]["c"]["nodes"]) == 2
    assert set(body["data"]["viewer"]["first"]["c"]["nodes"][0]) == {"from", "kwh"}
    assert list(body["data"]["viewer"]["second"]["c"]["nodes"][0]) == ["to"]


async def test_consumption_pages_backwards_across_a_dst_day(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW)
    home = sim.add_token("t", [SimHome("oslo-1", "Home", "Europe/Oslo", "Storgata 1", "0150", "Oslo", "NO")])[0]
    pages = []
    before = cursor(datetime(2025, 10, 27, 0, 0, tzinfo=OSLO))
    for _ in range(2):
        status, body = await gql(sim, HISTORY_QUERY.replace("last: 744", "last: 20"), "t",
                                 {"id": home.id, "before": before})  # fmt: skip
        assert status == 200, body
        connection = body["data"]["viewer"]["home"]["consumption"]
        pages.append(connection)
        before = connection["pageInfo"]["startCursor"]
    nodes = pages[1]["nodes"] + pages[0]["nodes"]
    oct26 = [n for n in nodes if n["from"].startswith("2025-10-26")]
    assert len(oct26) == 25  # the local day has 25 hours
    assert [n["from"] for n in oct26[2:5]] == ["2025-10-26T02:00:00.000+02:00", "2025-10-26T02:00:00.000+01:00",
                                               "2025-10-26T03:00:00.000+01:00"]  # fmt: skip
    starts = [datetime.fromisoformat(n["from"]) for n in nodes]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))
    assert pages[0]["nodes"][-1]["to"] == "2025-10-27T00:00:00.000+01:00"
    assert base64.b64decode(pages[0]["pageInfo"]["startCursor"]).decode() == pages[0]["nodes"][0]["from"]
    assert pages[0]["pageInfo"]["hasPreviousPage"] is True and pages[0]["pageInfo"]["hasNextPage"] is True
    expected = sim.data.consumption(home.id, starts[0], starts[-1] + timedelta(hours=1))
    assert [n["consumption"] for n in nodes] == [e.consumption for e in expected]
    assert [n["cost"] for n in nodes] == [e.cost for e in expected]


async def test_page_size_is_capped_and_newest_node_is_last_completed_hour(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW, history_days=40)
    home = sim.add_token("t", 1)[0]
    status, body = await gql(sim, HISTORY_QUERY.replace("last: 744", "last: 5000"), "t", {"id": home.id})
    assert status == 200
    page = body["data"]["viewer"]["home"]["consumption"]
    assert page["pageInfo"]["count"] == len(page["nodes"]) == 744
    assert datetime.fromisoformat(page["nodes"][-1]["to"]) == datetime(2025, 10, 27, 11, tzinfo=ZoneInfo("UTC"))
    status, body = await gql(sim, HISTORY_QUERY, "t", {"id": home.id, "before": page["pageInfo"]["startCursor"]})
    older = body["data"]["viewer"]["home"]["consumption"]
    assert older["pageInfo"]["hasPreviousPage"] is False  # 40 days of history, 744 + the rest
    assert older["pageInfo"]["count"] + 744 == len(sim.data.consumption(home.id, FIXED_NOW - timedelta(days=60),
                                                                        FIXED_NOW))  # fmt: skip
    status, body = await gql(sim, HISTORY_QUERY, "t", {"id": home.id, "before": older["pageInfo"]["startCursor"]})
    empty = body["data"]["viewer"]["home"]["consumption"]
    assert empty["nodes"] == [] and empty["pageInfo"]["startCursor"] is None


async def test_recent_nulls_are_served_and_can_be_filtered(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW)
    homes = sim.add_token("t", 4)
    query = """query ($id: ID!, $f: Boolean) { viewer { home(id: $id) {
        consumption(resolution: HOURLY, last: 48, filterEmptyNodes: $f) { pageInfo { count filtered }
          nodes { from consumption cost } } } } }"""
    nulls = 0
    for home in homes:
        _, body = await gql(sim, query, "t", {"id": home.id, "f": False})
        page = body["data"]["viewer"]["home"]["consumption"]
        missing = [n for n in page["nodes"] if n["consumption"] is None]
        assert all(n["cost"] is None for n in missing)
        nulls += len(missing)
        _, body = await gql(sim, query, "t", {"id": home.id, "f": True})
        filtered = body["data"]["viewer"]["home"]["consumption"]["pageInfo"]
        assert filtered == {"count": 48 - len(missing), "filtered": len(missing)}
    assert nulls > 0


async def test_forward_paging_with_first_and_after(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW)
    home = sim.add_token("t", [SimHome("h", "H", "Europe/Oslo", "a", "1", "Oslo", "NO", producing=True)])[0]
    query = """query ($after: String) { viewer { home(id: "h") {
      production(resolution: HOURLY, first: 3, after: $after) { pageInfo { endCursor hasNextPage }
        nodes { from production profit } } } } }"""
    day = base64.b64encode(b"2025-06-01").decode()
    _, body = await gql(sim, query, "t", {"after": day})
    page = body["data"]["viewer"]["home"]["production"]
    assert [n["from"] for n in page["nodes"]] == [f"2025-06-01T0{h}:00:00.000+02:00" for h in range(3)]
    _, body = await gql(sim, query, "t", {"after": page["pageInfo"]["endCursor"]})
    assert body["data"]["viewer"]["home"]["production"]["nodes"][0]["from"] == "2025-06-01T03:00:00.000+02:00"
    assert home.producing


async def test_quarter_hour_prices_and_tomorrow_after_publish(make_simulator: SimulatorFactory) -> None:
    now = [FIXED_NOW]  # 12:20 Oslo, 12:20 Stockholm/Amsterdam
    sim = await make_simulator(clock=lambda: now[0])
    homes = sim.add_token("t", 3)
    status, body = await gql(sim, PRICES_QUERY, "t")
    assert status == 200, body
    for home, answer in zip(homes, body["data"]["viewer"]["homes"], strict=True):
        info = answer["currentSubscription"]["priceInfo"]
        assert len(info["today"]) == 96 and info["tomorrow"] == []
        expected = sim.data.prices(home.id, date(2025, 10, 27))
        assert [p["total"] for p in info["today"]] == [p.total for p in expected]
        assert [p["level"] for p in info["today"]] == [p.level for p in expected]
        assert info["current"]["startsAt"] == "2025-10-27T12:15:00.000+01:00"
        assert info["current"]["currency"] == home.currency
    now[0] = datetime.combine(date(2025, 10, 27), time(13, 5), OSLO)
    _, body = await gql(sim, PRICES_QUERY, "t")
    assert len(body["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfo"]["tomorrow"]) == 96


async def test_dst_days_have_92_and_100_quarter_hours(make_simulator: SimulatorFactory) -> None:
    moment = [datetime(2025, 3, 30, 10, tzinfo=OSLO)]
    sim = await make_simulator(clock=lambda: moment[0])
    sim.add_token("t", 1)
    _, body = await gql(sim, PRICES_QUERY, "t")
    assert len(body["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfo"]["today"]) == 92
    moment[0] = datetime(2025, 10, 26, 10, tzinfo=OSLO)
    _, body = await gql(sim, PRICES_QUERY, "t")
    info = body["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfo"]
    assert len(info["today"]) == 100
    hourly = PRICES_QUERY.replace("QUARTER_HOURLY", "HOURLY")
    _, body = await gql(sim, hourly, "t")
    assert len(body["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfo"]["today"]) == 25


async def test_price_range_pages_with_caps(make_simulator: SimulatorFactory) -> None:
    sim = await make_simulator(clock=lambda: FIXED_NOW)
    sim.add_token("t", 1)
    query = """query ($r: PriceInfoRangeResolution!, $before: String) { viewer { homes { currentSubscription {
      priceInfoRange(resolution: $r, last: 1000, before: $before) {
        pageInfo { startCursor hasPreviousPage count resolution currency minTotal maxTotal }
        edges { cursor node { startsAt total level } } } } } } }"""
    counts = {}
    for resolution in ("QUARTER_HOURLY", "HOURLY", "DAILY"):
        status, body = await gql(sim, query, "t", {"r": resolution})
        assert status == 200, body
        connection = body["data"]["viewer"]["homes"][0]["currentSubscription"]["priceInfoRange"]
        counts[resolution] = connection["pageInfo"]["count"]
        assert connection["pageInfo"]["resolution"] == resolution
        edges = connection["edges"]
        assert base64.b64decode(edges[0]["cursor"]).decode() == edges[0]["node"]["startsAt"]
        assert edges[-1]["node"]["startsAt"].startswith("2025-10-27")  # tomorrow not published yet
    assert counts == {"QUARTER_HOURLY": 672, "HOURLY": 744, "DAILY": 31}


async def test_unknown_or_missing_token_is_unauthenticated_with_http_200(simulator: Simulator) -> None:
    simulator.add_token("good", 1)
    for token in ("bad-token", None):
        status, body = await gql(simulator, HOMES_QUERY, token)
        assert status == 200
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert simulator.stats.requests["bad-token"] == 1 and simulator.stats.requests[""] == 1


async def test_bad_requests_get_http_400(simulator: Simulator) -> None:
    simulator.add_token("t", 1)
    status, body = await gql(simulator, "{ viewer { homes { id }", "t")
    assert status == 400 and "Syntax Error" in body["errors"][0]["message"]
    status, body = await gql(simulator, "{ viewer { homes { price } } }", "t")
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    status, body = await gql(simulator, "query ($id: ID!) { viewer { home(id: $id) { id } } }", "t")
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    status, body = await gql(simulator, HOMES_QUERY, "t", user_agent=None)
    assert status == 400 and "User agent" in body["responseMessage"]
    status, body = await gql(simulator, '{ viewer { home(id: "nope") { id } } }', "t")
    assert status == 200 and body["data"] is None and "nope" in body["errors"][0]["message"]
