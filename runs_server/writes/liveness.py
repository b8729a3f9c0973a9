"""Runs whose process stopped reporting become ``crashed``, as on W&B.

The SDK posts to file_stream at least every 30 s while a run lives (an empty
post is a heartbeat). A run still ``running`` with no heartbeat for
``crash_after_s`` is marked crashed; a later post revives it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from runs_server.store import Store, StoreWriteError

# W&B's own threshold is minutes; so is the default here (ServerConfig).
DEFAULT_CRASH_AFTER_S = 300.0
# The check is one UPDATE over the runs table; at most this often.
CHECK_EVERY_S = 5.0


class Liveness:
    """Marks silent runs crashed, at most once per ``CHECK_EVERY_S``."""

    def __init__(self, store: Store, crash_after_s: float = DEFAULT_CRASH_AFTER_S):
        self.store = store
        self.crash_after_s = crash_after_s
        self._next_check = 0.0
        self._lock = threading.Lock()

    def check(self, now: float | None = None) -> int:
        """Mark runs crashed if a check is due; returns how many were marked."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            if moment < self._next_check:
                return 0
            self._next_check = moment + CHECK_EVERY_S
        if self.store.read_only:
            return 0  # a store served read-only takes no writes, this one neither
        cutoff = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(
            seconds=self.crash_after_s
        )
        try:
            return self.store.streams.mark_crashed(cutoff.isoformat(timespec="seconds"))
        except StoreWriteError:  # locked by another writer, or full: next time
            return 0
