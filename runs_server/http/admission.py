"""Request bodies admitted before they are read, within a byte budget.

Each request body may be up to MAX_BODY_BYTES; many arriving at once could
hold many times that (50 bodies of 16 MiB: 800 MiB). A body is admitted
before any of it is read: its declared ``Content-Length`` (or, sent chunked,
the per-body cap) is reserved from ``max_bytes``; a body that does not fit
waits its turn (unread, in the socket) until ``wait_s`` and is then answered
503. Once the bytes held fall back to zero after a peak, the C allocator is
asked to give freed memory back to the system (glibc ``malloc_trim``), so
the server's size returns after a burst.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from runs_server.graphql.limits import MAX_BODY_BYTES, MAX_BODY_BYTES_HELD

logger = logging.getLogger("runs_server")

# A peak over this (bytes held) is followed by giving memory back.
TRIM_AFTER_BYTES = 8 * 1024 * 1024


class BodyTooLarge(Exception):
    """The declared body is over the per-body cap: refuse it unread."""


class NoRoom(Exception):
    """The body could not be admitted in time: answer 503."""


def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to call
        return None


_TRIM = _malloc_trim()


def give_memory_back() -> None:
    if _TRIM is not None:
        _TRIM(0)


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Buffers up to this size come from the heap and are reused, not mapped
# afresh (and faulted in page by page) for every reply: a columnar page's
# blobs, arrays and Arrow body are a few MB each. The reply cap.
HEAP_BUFFER_BYTES = 64 * 1024 * 1024
# Free heap kept before glibc trims on its own; bursts are trimmed anyway
# (``give_memory_back``).
KEPT_FREE_BYTES = 256 * 1024 * 1024


def reuse_large_buffers() -> bool:
    """Serve large buffers from the heap (glibc only; the server process
    calls it once): each columnar page otherwise maps and faults in tens of
    MB afresh, a third of the server's time on such pages. Whether set."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, HEAP_BUFFER_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
    )


class BodyAdmission:
    """The byte budget of bodies held at once (one per server)."""

    def __init__(self, max_bytes: int = MAX_BODY_BYTES_HELD) -> None:
        self.max_bytes = max_bytes
        self.held = 0
        self.peak = 0  # the most ever held at once, for reports and tests
        self.waited = 0  # bodies that had to wait for room
        self.refused = 0  # bodies answered 503 for want of room
        self._since_trim = 0
        self._changed = asyncio.Condition()

    @staticmethod
    def size_of(content_length: str | None) -> int:
        """The bytes to reserve for a body declaring ``content_length``."""
        if content_length is None:
            return MAX_BODY_BYTES  # chunked: as much as a body may be
        text = content_length.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise BodyTooLarge  # malformed; uvicorn refuses most before us
        size = int(text)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        return size

    @asynccontextmanager
    async def admitted(self, size: int, wait_s: float) -> AsyncIterator[None]:
        """Hold ``size`` bytes of the budget for the block; raise NoRoom when
        they cannot be had within ``wait_s``."""
        size = min(size, self.max_bytes)  # one body alone always fits
        async with self._changed:
            if self.held + size > self.max_bytes:
                self.waited += 1
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(
                            lambda: self.held + size <= self.max_bytes
                        ),
                        wait_s,
                    )
                except asyncio.TimeoutError:
                    self.refused += 1
                    raise NoRoom from None
            self.held += size
            self.peak = max(self.peak, self.held)
            self._since_trim = max(self._since_trim, self.held)
        try:
            yield
        finally:
            async with self._changed:
                self.held -= size
                self._changed.notify_all()
                trim = self.held == 0 and self._since_trim > TRIM_AFTER_BYTES
                if trim:
                    self._since_trim = 0
            if trim:
                await asyncio.to_thread(give_memory_back)
