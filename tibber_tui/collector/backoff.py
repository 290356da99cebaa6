"""Jittered exponential backoff for the collector's retry loops (Tibber asks for it on every retry)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays ``base * 2**failures`` capped at ``cap``, with "full jitter" so many clients never retry in step.

    ``failure()`` returns the next delay and counts it; ``success()`` resets.
    """

    base: float = 1.0
    cap: float = 300.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def delay(self, failures: int) -> float:
        """The delay after ``failures`` consecutive failures (>= 1), jittered between half and all of it."""
        ceiling = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        return ceiling / 2 + self.rng.random() * ceiling / 2

    def failure(self) -> float:
        self.failures += 1
        return self.delay(self.failures)

    def success(self) -> None:
        self.failures = 0


def jittered(seconds: float, fraction: float = 0.1, rng: random.Random | None = None) -> float:
    """``seconds`` plus up to ``fraction`` of it at random, so periodic work of many homes spreads out."""
    r = rng or random
    return seconds + r.random() * seconds * fraction
