"""Injected faults for the client's retry tests and honest benchmarks.

One seeded draw per request picks at most one fault, so a given seed and
request sequence always fails the same requests.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import Enum


class Fault(Enum):
    RATE_LIMIT = "429"  # HTTP 429 with Retry-After
    SERVER_ERROR = "5xx"  # HTTP 500/502/503/504
    DROP = "drop"  # connection closed after the headers, before any body
    TRUNCATE = "truncate"  # HTTP 200 whose body is cut short (invalid JSON)


@dataclass(frozen=True)
class FaultConfig:
    """Shares of requests (0..1) that get each fault; they must sum to <= 1."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_drop: float = 0.0
    rate_truncate: float = 0.0
    retry_after_s: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        rates = (self.rate_429, self.rate_5xx, self.rate_drop, self.rate_truncate)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError(
                "fault rates must each be between 0 and 1 and sum to at most 1, "
                f"got {rates}"
            )

    @property
    def active(self) -> bool:
        return (self.rate_429 + self.rate_5xx + self.rate_drop + self.rate_truncate) > 0


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self.injected = 0  # faults drawn so far, for reports

    def draw(self) -> tuple[Fault | None, int]:
        """The fault for the next request (or None) and a 5xx status to use."""
        if not self.config.active:
            return None, 0
        with self._lock:
            r = self._rng.random()
            status = self._rng.choice((500, 502, 503, 504))
        c = self.config
        for fault, rate in (
            (Fault.RATE_LIMIT, c.rate_429),
            (Fault.SERVER_ERROR, c.rate_5xx),
            (Fault.DROP, c.rate_drop),
            (Fault.TRUNCATE, c.rate_truncate),
        ):
            if r < rate:
                with self._lock:
                    self.injected += 1
                return fault, status
            r -= rate
        return None, status
