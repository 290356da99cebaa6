"""The ring buffer and the downsampling behind the power graph (pure functions, no app)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tibber_tui.ui.samples import ColumnRange, PowerSample, SampleRing, downsample, value_bounds

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_downsample_keeps_min_and_max_per_column() -> None:
    points = [(T0 + timedelta(seconds=s), float(v)) for s, v in ((0, 5), (1, 9), (2, 1), (10, 7), (19, 3))]
    columns = downsample(points, T0, T0 + timedelta(seconds=20), 2)
    assert columns == [ColumnRange(1.0, 9.0), ColumnRange(3.0, 7.0)]


def test_downsample_never_returns_more_than_two_values_per_column() -> None:
    points = [(T0 + timedelta(seconds=s), float(s % 97)) for s in range(86_400)]
    columns = downsample(points, T0, T0 + timedelta(hours=24), 70)
    assert len(columns) == 70
    assert all(c is not None and c.low == 0.0 and c.high == 96.0 for c in columns)


def test_downsample_skips_none_values_and_points_outside_the_window() -> None:
    points = [
        (T0 - timedelta(seconds=1), 1000.0),  # before the window
        (T0 + timedelta(seconds=1), None),  # the frame did not carry the value: not a zero
        (T0 + timedelta(seconds=6), 42.0),
        (T0 + timedelta(seconds=11), 9999.0),  # after the window
    ]
    columns = downsample(points, T0, T0 + timedelta(seconds=10), 2)
    assert columns == [None, ColumnRange(42.0, 42.0)]


def test_downsample_puts_the_window_end_into_the_last_column() -> None:
    end = T0 + timedelta(seconds=10)
    assert downsample([(end, 3.0)], T0, end, 5)[-1] == ColumnRange(3.0, 3.0)


def test_downsample_of_an_empty_or_degenerate_window() -> None:
    assert downsample([], T0, T0 + timedelta(seconds=1), 3) == [None, None, None]
    assert downsample([(T0, 1.0)], T0, T0, 2) == [None, None]
    assert downsample([(T0, 1.0)], T0, T0 + timedelta(1), 0) == []


def test_value_bounds_spans_zero_to_the_largest_value() -> None:
    assert value_bounds([ColumnRange(100, 900), None], [ColumnRange(0, 2500)]) == (0.0, 2500.0)
    assert value_bounds([None]) == (0.0, 1.0)


def _sample(seconds: float, power: float | None = 1.0) -> PowerSample:
    return PowerSample(T0 + timedelta(seconds=seconds), power, None)


def test_ring_drops_the_oldest_by_count_and_by_age() -> None:
    ring = SampleRing(max_samples=3, max_age=timedelta(seconds=100))
    for s in (0, 1, 2, 3):
        ring.add(_sample(s))
    assert [s.timestamp for s in ring.since(T0)] == [T0 + timedelta(seconds=s) for s in (1, 2, 3)]
    ring.add(_sample(200))
    assert len(ring) == 1 and ring.latest == _sample(200)


def test_ring_ignores_out_of_order_and_duplicate_samples() -> None:
    ring = SampleRing()
    ring.add(_sample(5, 1))
    ring.add(_sample(5, 2))
    ring.add(_sample(4, 3))
    assert len(ring) == 1 and ring.latest == _sample(5, 1)


def test_ring_merge_fills_older_history_without_duplicates() -> None:
    ring = SampleRing()
    ring.extend([_sample(10), _sample(12)])
    ring.merge([_sample(8), _sample(10), _sample(11)])
    assert [int((s.timestamp - T0).total_seconds()) for s in ring.since(T0)] == [8, 10, 11, 12]
    ring.merge([_sample(13)])
    assert ring.latest == _sample(13)


def test_since_returns_only_the_window() -> None:
    ring = SampleRing()
    ring.extend(_sample(s) for s in range(10))
    assert [s.timestamp.second for s in ring.since(T0 + timedelta(seconds=7))] == [7, 8, 9]
