"""Connections bounded before they cost anything: slow heads, idle sockets, caps.

uvicorn's h11 protocol holds a connection that never finishes its request
head for ever (its keep-alive timer restarts on every byte), and any number of
idle ones. ``guarded_protocol`` adds what it lacks:

- a request head must be complete within ``head_timeout_s`` of its first
  byte (of the connection, for the first request): a slowloris is closed;
- at most ``max_connections`` are open; a new one past the cap closes the
  oldest connection waiting for a head (idle or slow), so idle sockets cannot
  lock a client out; with none waiting, the new one is answered 503 and closed.
  The cap stays below the process's descriptor limit, keeping descriptors for
  the store, exports and logs (accept() failing for lack of them logs a
  traceback per attempt).

Idle keep-alive connections are closed by uvicorn after ``timeout_keep_alive``.

With ``serve --workers N``, a kept-alive connection stays on the worker that
accepted it, and connections arriving together can land unevenly (3 and 1
of 4): the requests of the busier worker then share its core and wait on
each other. A worker holding ``SHED_MARGIN`` more connections than another
closes one after its reply (``Connection: close``, at most one per
``SHED_PAUSE_S``); the client connects again and the accept balancing of
``serving.SharedListener`` hands the connection to the lighter worker.
"""

from __future__ import annotations

import asyncio
import resource
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 512
HEAD_TIMEOUT_SECONDS = 10.0
IDLE_TIMEOUT_SECONDS = 15
# A request head (request line and headers) may be at most this long.
MAX_HEAD_BYTES = 16 * 1024
# Descriptors left for everything but client sockets (store, WAL, exports,
# logs, the listening socket).
RESERVED_DESCRIPTORS = 64
# Connections more than the lightest serving worker's at which a worker
# closes one after its reply, and the least time between two such closes
# (the reconnection must land, and the counts settle, before the next).
SHED_MARGIN = 2
SHED_PAUSE_S = 0.25

_BUSY = (
    b'{"errors":[{"message":"the server has too many connections open; '
    b'retry in a second"}]}'
)
BUSY_REPLY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"connection: close\r\nretry-after: 1\r\n"
    + f"content-length: {len(_BUSY)}\r\n\r\n".encode()
    + _BUSY
)


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """``wanted``, lowered to fit the descriptor limit less a reserve."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS))


@dataclass
class ConnectionGuard:
    """The open connections of one server and what was done to them."""

    max_connections: int = MAX_CONNECTIONS
    head_timeout_s: float = HEAD_TIMEOUT_SECONDS
    open: OrderedDict[GuardedH11Protocol, None] = field(default_factory=OrderedDict)
    refused: int = 0  # answered 503 at the cap
    evicted: int = 0  # waiting connections closed to admit a new one
    timed_out: int = 0  # heads that did not arrive in time
    # ``serve --workers N``: the open-connection count of every worker, in
    # memory they share, and this worker's slot (see serving.SharedListener).
    loads: Any = None
    slot: int = 0
    shed: int = 0  # connections closed after a reply to rebalance workers
    _shed_at: float = float("-inf")

    def shed_one(self, now: float) -> bool:
        """Whether to close the connection of the reply about to go, so that
        its client reconnects to a worker holding fewer (see the module)."""
        loads = self.loads
        if loads is None or now - self._shed_at < SHED_PAUSE_S:
            return False
        mine = loads[self.slot]
        others = [n for i, n in enumerate(loads) if i != self.slot and n >= 0]
        if not others or mine - min(others) < SHED_MARGIN:
            return False
        self._shed_at = now
        self.shed += 1
        return True

    def publish(self) -> None:
        """Write this worker's open connections into its shared slot."""
        if self.loads is not None:
            self.loads[self.slot] = len(self.open)

    def admit(self, newcomer: GuardedH11Protocol) -> bool:
        """Make room for ``newcomer``; False when every slot is busy."""
        while len(self.open) >= self.max_connections:
            victim = next((c for c in self.open if c.waiting_for_head), None)
            if victim is None:
                return False
            self.open.pop(victim)
            self.evicted += 1
            victim.transport.close()
        self.open[newcomer] = None
        self.publish()
        return True


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol class, bounded by ``guard``."""

    class Guarded(GuardedH11Protocol):
        pass

    Guarded.guard = guard
    return Guarded


class GuardedH11Protocol(H11Protocol):
    guard: ConnectionGuard
    _head_timer: asyncio.TimerHandle | None = None

    @property
    def waiting_for_head(self) -> bool:
        """No request in progress: idle, or its next head still arriving."""
        return self.cycle is None or self.cycle.response_complete

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if not self.guard.admit(self):
            self.guard.refused += 1
            transport.write(BUSY_REPLY)
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.open.pop(self, None)
        self.guard.publish()
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.waiting_for_head:
            self._disarm()  # the head is complete; the body has its own limit
        elif self._head_timer is None and not self.transport.is_closing():
            self._arm()  # the first byte of the next head

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(
            self.guard.head_timeout_s, self._head_too_slow
        )

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.waiting_for_head and not self.transport.is_closing():
            self.guard.timed_out += 1
            self.transport.close()
