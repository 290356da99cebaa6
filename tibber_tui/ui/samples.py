"""Live power samples kept outside the widgets, and their reduction to at most two points per column.

The graph never sees raw samples: ``downsample`` turns any number of samples in a time window into one
(min, max) pair per screen column, so drawing costs the same for 5 minutes or 24 hours of data.
Pure Python, no Textual: unit-tested on its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PowerSample:
    """One live frame reduced to what the graph shows. ``None`` = the frame did not carry the value."""

    timestamp: datetime
    consumption: float | None
    production: float | None


@dataclass(frozen=True, slots=True)
class ColumnRange:
    """The smallest and largest value that fell into one screen column."""

    low: float
    high: float


class SampleRing:
    """Samples of one home, oldest first, bounded by count and by age (a ring buffer)."""

    def __init__(self, max_samples: int = 50_000, max_age: timedelta = timedelta(hours=24)) -> None:
        self._samples: deque[PowerSample] = deque(maxlen=max_samples)
        self.max_age = max_age

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def latest(self) -> PowerSample | None:
        return self._samples[-1] if self._samples else None

    def add(self, sample: PowerSample) -> None:
        """Append a sample; an out-of-order or duplicate one (DB re-read) is ignored."""
        if self._samples and sample.timestamp <= self._samples[-1].timestamp:
            return
        self._samples.append(sample)
        cutoff = sample.timestamp - self.max_age
        while self._samples and self._samples[0].timestamp < cutoff:
            self._samples.popleft()

    def extend(self, samples: Iterable[PowerSample]) -> None:
        for sample in samples:
            self.add(sample)

    def merge(self, samples: Iterable[PowerSample]) -> None:
        """Add samples of any age (a database read), keeping order and dropping duplicate timestamps."""
        incoming = list(samples)
        if not incoming:
            return
        if not self._samples or incoming[0].timestamp > self._samples[-1].timestamp:
            self.extend(incoming)
            return
        by_time = {s.timestamp: s for s in self._samples}
        for sample in incoming:
            by_time.setdefault(sample.timestamp, sample)
        merged = sorted(by_time.values(), key=lambda s: s.timestamp)
        self._samples = deque(merged[-(self._samples.maxlen or len(merged)) :], maxlen=self._samples.maxlen)
        cutoff = self._samples[-1].timestamp - self.max_age
        while self._samples and self._samples[0].timestamp < cutoff:
            self._samples.popleft()

    def since(self, start: datetime) -> list[PowerSample]:
        """Samples with ``timestamp >= start`` (scans from the newest end: windows are short)."""
        result: list[PowerSample] = []
        for sample in reversed(self._samples):
            if sample.timestamp < start:
                break
            result.append(sample)
        result.reverse()
        return result


class SampleStore:
    """One ``SampleRing`` per home id."""

    def __init__(self, max_samples: int = 50_000, max_age: timedelta = timedelta(hours=24)) -> None:
        self._rings: dict[str, SampleRing] = {}
        self._max_samples = max_samples
        self._max_age = max_age

    def ring(self, home_id: str) -> SampleRing:
        ring = self._rings.get(home_id)
        if ring is None:
            ring = self._rings[home_id] = SampleRing(self._max_samples, self._max_age)
        return ring

    def add(self, home_id: str, sample: PowerSample) -> None:
        self.ring(home_id).add(sample)

    def latest(self, home_id: str) -> PowerSample | None:
        ring = self._rings.get(home_id)
        return ring.latest if ring else None

    def newest_timestamp(self, home_ids: Iterable[str]) -> datetime | None:
        stamps = [s.timestamp for h in home_ids if (s := self.latest(h)) is not None]
        return max(stamps) if stamps else None


def downsample(
    points: Sequence[tuple[datetime, float | None]],
    start: datetime,
    end: datetime,
    columns: int,
) -> list[ColumnRange | None]:
    """Reduce ``points`` in ``[start, end]`` to one (min, max) per column; ``None`` where a column has no data.

    Each column covers an equal slice of the window; points outside the window and ``None`` values are skipped.
    """
    if columns <= 0:
        return []
    span = (end - start).total_seconds()
    result: list[ColumnRange | None] = [None] * columns
    if span <= 0:
        return result
    lows = [0.0] * columns
    highs = [0.0] * columns
    seen = [False] * columns
    for timestamp, value in points:
        if value is None:
            continue
        offset = (timestamp - start).total_seconds()
        if offset < 0 or offset > span:
            continue
        column = min(int(offset / span * columns), columns - 1)
        if seen[column]:
            if value < lows[column]:
                lows[column] = value
            elif value > highs[column]:
                highs[column] = value
        else:
            seen[column] = True
            lows[column] = highs[column] = value
    for column in range(columns):
        if seen[column]:
            result[column] = ColumnRange(lows[column], highs[column])
    return result


def value_bounds(*series: Sequence[ColumnRange | None]) -> tuple[float, float]:
    """The y range for the graph: 0 up to the largest value seen (at least 1 W, so an empty graph has an axis)."""
    top = 0.0
    bottom = 0.0
    for columns in series:
        for column in columns:
            if column is not None:
                top = max(top, column.high)
                bottom = min(bottom, column.low)
    return bottom, max(top, bottom + 1.0)
