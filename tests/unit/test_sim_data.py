"""The simulator's data: deterministic, correct local days (DST), late/revised hours, live frames."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tibber_tui.simulator.data import SimData
from tibber_tui.simulator.model import SimHome, generate_homes

OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2025, 10, 27, 11, 20, tzinfo=UTC)  # 12:20 in Oslo, the day after the autumn DST change


def make_data(seed: int = 1, now: datetime = NOW) -> tuple[SimData, list[SimHome]]:
    data = SimData(seed, lambda: now, history_days=800, tomorrow_publish=time(13, 0))
    homes = generate_homes(seed, "token", 3, producing=1)
    for home in homes:
        data.register(home)
    return data, homes


def test_same_seed_gives_same_data_and_another_seed_differs() -> None:
    a, homes = make_data(1)
    b, _ = make_data(1)
    c, _ = make_data(2)
    start, end = datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 3, tzinfo=UTC)
    assert a.consumption(homes[0].id, start, end) == b.consumption(homes[0].id, start, end)
    assert a.prices(homes[1].id, date(2025, 9, 2)) == b.prices(homes[1].id, date(2025, 9, 2))
    assert a.live(homes[0].id, NOW) == b.live(homes[0].id, NOW)
    other_home = generate_homes(2, "token", 3, producing=1)[0].id
    assert other_home != homes[0].id
    first = [r.consumption for r in a.consumption(homes[0].id, start, end)]
    assert first != [r.consumption for r in c.consumption(other_home, start, end)]


@pytest.mark.parametrize(("day", "quarters", "hours"), [(date(2025, 3, 30), 92, 23), (date(2025, 10, 26), 100, 25),
                                                         (date(2025, 10, 20), 96, 24)])  # fmt: skip
def test_local_days_have_the_right_number_of_slots(day: date, quarters: int, hours: int) -> None:
    data, homes = make_data()
    oslo_home = homes[0]
    assert oslo_home.time_zone == "Europe/Oslo"
    prices = data.prices(oslo_home.id, day)
    assert len(prices) == quarters
    assert len({p.starts_at.timestamp() for p in prices}) == quarters
    start = datetime.combine(day, time(0), OSLO)
    rows = data.consumption(oslo_home.id, start, datetime.combine(day + timedelta(days=1), time(0), OSLO))
    assert len(rows) == hours
    assert all(r.consumption is not None and r.consumption >= 0 for r in rows)


def test_prices_before_october_2025_repeat_each_hour_four_times() -> None:
    data, homes = make_data()
    before = data.prices(homes[0].id, date(2025, 9, 30))
    after = data.prices(homes[0].id, date(2025, 10, 2))
    assert all(len({p.total for p in before[i : i + 4]}) == 1 for i in range(0, 96, 4))
    assert any(len({p.total for p in after[i : i + 4]}) > 1 for i in range(0, 96, 4))
    levels = {p.level for p in after}
    assert levels <= {"VERY_CHEAP", "CHEAP", "NORMAL", "EXPENSIVE", "VERY_EXPENSIVE"}
    assert len(levels) >= 2
    assert all(p.total == pytest.approx(p.energy + p.tax) for p in after if p.total and p.energy and p.tax)


def test_newest_hours_are_late_or_preliminary_and_settle_later() -> None:
    data, homes = make_data()
    home = homes[1]
    start = NOW - timedelta(hours=8)
    served = data.consumption(home.id, start, NOW, as_of=NOW)
    final = data.consumption(home.id, start, NOW)
    assert served[-1].to <= NOW and served[-1].to > NOW - timedelta(hours=1)  # newest = last completed hour
    assert [r.from_ for r in served] == [r.from_ for r in final]
    recent_differs = [s.consumption != f.consumption for s, f in zip(served, final, strict=True)]
    assert any(recent_differs)
    later = data.consumption(home.id, start, NOW, as_of=NOW + timedelta(hours=8))
    assert later[: len(final)] == final
    old = data.consumption(home.id, NOW - timedelta(days=3), NOW - timedelta(days=2), as_of=NOW)
    assert old == data.consumption(home.id, NOW - timedelta(days=3), NOW - timedelta(days=2))


def test_history_ends_history_days_back() -> None:
    data, homes = make_data()
    rows = data.consumption(homes[0].id, NOW - timedelta(days=900), NOW - timedelta(days=790))
    assert rows[0].from_ == datetime.combine(NOW.astimezone(OSLO).date() - timedelta(days=800), time(0), OSLO)


def test_only_producing_homes_produce_and_mostly_around_noon() -> None:
    data, homes = make_data()
    producing, plain = homes[0], homes[1]
    assert producing.producing and not plain.producing
    day = datetime(2025, 6, 20, tzinfo=OSLO)
    rows = data.production(producing.id, day, day + timedelta(days=1))
    by_hour = {r.from_.astimezone(OSLO).hour: r.production or 0.0 for r in rows}
    assert by_hour[0] == 0.0 and by_hour[23] == 0.0
    assert max(by_hour, key=lambda h: by_hour[h]) in range(10, 17)
    assert all(r.production is None for r in data.production(plain.id, day, day + timedelta(days=1)))


def test_live_accumulated_values_reset_at_local_midnight() -> None:
    data, homes = make_data()
    home = homes[1]  # Stockholm
    tz = ZoneInfo(home.time_zone)
    before = data.live(home.id, datetime(2025, 10, 26, 23, 59, 58, tzinfo=tz))
    after = data.live(home.id, datetime(2025, 10, 27, 0, 0, 2, tzinfo=tz))
    assert before.accumulated_consumption is not None and before.accumulated_consumption > 5
    assert after.accumulated_consumption is not None and after.accumulated_consumption < 0.01
    assert after.timestamp.utcoffset() == timedelta(hours=1)
    assert before.last_meter_consumption is not None and after.last_meter_consumption is not None
    assert after.last_meter_consumption > before.last_meter_consumption  # the register never goes back


def test_live_frames_miss_some_fields_like_real_meters() -> None:
    data, homes = make_data()
    frames = [data.live(homes[0].id, NOW + timedelta(seconds=2 * n)) for n in range(200)]
    with_phases = sum(f.voltage_phase1 is not None for f in frames)
    assert 10 < with_phases < 80  # about one frame in five
    assert all((f.voltage_phase1 is None) == (f.current_l3 is None) for f in frames)
    assert any(f.power_production is None for f in frames) and any(f.power_production is not None for f in frames)
    assert all(f.power is not None and f.min_power is not None and f.max_power is not None for f in frames)
    plain = data.live(homes[1].id, NOW)
    assert plain.power_production is None and plain.accumulated_production == 0.0
