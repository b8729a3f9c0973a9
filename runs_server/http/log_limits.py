"""Repeated log lines rate-limited: a fault that recurs per request or per
accept() (descriptors exhausted) must not write hundreds of thousands of
tracebacks. Each distinct message (logger, level, template) is written at
most ``burst`` times per ``window_s``; then one line says how many were held
back, when the next one is written."""

from __future__ import annotations

import logging
import threading
import time

# The loggers the server writes to: ours, uvicorn's, asyncio's.
LOGGERS = ("runs_server", "runs_server.graphql", "uvicorn.error", "asyncio")
BURST = 5
WINDOW_SECONDS = 60.0


class RepeatLimit(logging.Filter):
    def __init__(self, burst: int = BURST, window_s: float = WINDOW_SECONDS) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._lock = threading.Lock()
        # (logger, level, template) -> [window start, written, held back]
        self._seen: dict[tuple[str, int, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or now - entry[0] > self.window_s:
                held = 0 if entry is None else int(entry[2])
                if len(self._seen) > 1000:  # a bound on the table itself
                    self._seen.clear()
                self._seen[key] = [now, 1, 0]
                if held:
                    record.msg = f"{record.msg} (and {held} more like it held back)"
                return True
            if entry[1] < self.burst:
                entry[1] += 1
                return True
            entry[2] += 1
            return False


_installed = RepeatLimit()


def limit_repeats() -> None:
    """Attach the shared limit to the server's loggers (once each)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _installed not in logger.filters:
            logger.addFilter(_installed)
