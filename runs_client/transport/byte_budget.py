"""The bytes of decompressed answers that one client holds at once.

Each answer is capped on its own (``max_response_bytes``), but a few answers
in flight together, each under the cap, could still inflate to several times
it (three small gzip bodies took a client from 150 MB to 3.3 GB). So every
request of a client reserves its decompressed bytes from one budget as they
arrive, and gives them back once its answer has been read and parsed.
"""

from __future__ import annotations

import threading

__all__ = ["ByteBudget", "Reservation"]


class ByteBudget:
    """``limit`` bytes shared by every request of one client (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.peak = 0  # the most held at once, for tests and reports
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes; False (and nothing reserved) if over the limit."""
        with self._lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            self.peak = max(self.peak, self.held)
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self.held -= size


class Reservation:
    """What one request has taken from a ``ByteBudget``, given back at once."""

    def __init__(self, budget: ByteBudget) -> None:
        self.budget = budget
        self.size = 0

    def take(self, size: int) -> bool:
        if not self.budget.take(size):
            return False
        self.size += size
        return True

    def release(self) -> None:
        self.budget.give(self.size)
        self.size = 0
