"""Per-request state the resolvers share: who asks, the connection, the budgets.

A request reads through one connection of its own (``conn``, taken on first
use, so parsing and validating a query hold nothing). Its budgets are charged
as fields resolve: history rows (``spend_rows``) and response bytes
(``spend_bytes``). The first refusal is kept in ``refusal``; from then on the
request does no more work (SQL is interrupted, fields resolve to null) and the
server answers with that one error. A request whose client hung up, or that
ran past its deadline, is stopped the same way.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from runs_server.graphql.limits import (
    MAX_RESPONSE_BYTES,
    MAX_RESPONSE_ROWS,
    MAX_VALUES_READ,
    RESPONSE_TOO_LARGE,
    TIMED_OUT,
)
from runs_server.history import HistoryExports
from runs_server.store import Store, User


class Refused(GraphQLError):
    """The request stopped; ``extensions["code"]`` says why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


@dataclass
class RequestContext:
    store: Store
    user: User | None
    max_rows: int = MAX_RESPONSE_ROWS
    max_bytes: int = MAX_RESPONSE_BYTES
    max_reads: int = MAX_VALUES_READ
    #: The key this request authenticated with; only it may be shown back.
    api_key: str | None = None
    deadline: float | None = None  # time.monotonic() after which work stops
    cancelled: threading.Event = field(default_factory=threading.Event)
    rows_spent: int = 0
    bytes_spent: int = 0
    reads_spent: int = 0
    refusal: Refused | None = None
    _stack: ExitStack = field(default_factory=ExitStack)
    _conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """This request's read connection (see ``Store.reader``)."""
        self.check()
        if self._conn is None:
            self._conn = self._stack.enter_context(self.store.reader(self._progress))
        return self._conn

    def close(self) -> None:
        """Give the connection back (or release the in-memory store's lock)."""
        self._stack.close()
        self._conn = None

    @property
    def stopped(self) -> bool:
        return self.refusal is not None or self.cancelled.is_set()

    def check(self) -> None:
        """Raise the refusal if the request must stop; cheap, call it often."""
        if self.refusal is None:
            if self.cancelled.is_set():
                self.refusal = Refused("the client hung up", "CLIENT_GONE")
            elif self.deadline is not None and time.monotonic() > self.deadline:
                self.refusal = Refused(
                    "this request ran past the server's time limit; ask for "
                    "less per request (a smaller per_page or samples)",
                    TIMED_OUT,
                )
        if self.refusal is not None:
            raise self.refusal

    def _progress(self) -> int:
        try:
            self.check()
        except Refused:
            return 1  # interrupts the running SQL statement
        return 0

    def refuse(self, message: str, code: str = RESPONSE_TOO_LARGE) -> Refused:
        if self.refusal is None:
            self.refusal = Refused(message, code)
        return self.refusal

    # Where parquetHistory writes files, and the URL links to them start with
    # (the server as the client reached it); None: exports not served.
    exports: HistoryExports | None = None
    base_url: str = ""

    def spend_rows(self, count: int) -> None:
        """Charge ``count`` history/event rows to this response's row cap."""
        self.check()
        if self.rows_spent + count > self.max_rows:
            raise self.refuse(
                f"this request would return more than {self.max_rows:,} history "
                "rows in one response; lower per_page (the runs page size) or samples"
            )
        self.rows_spent += count

    def spend_reads(self, count: int) -> None:
        """Charge ``count`` history values about to be read (decoded), kept or
        not, to this request's read cap."""
        self.check()
        if self.reads_spent + count > self.max_reads:
            raise self.refuse(
                f"this request would read more than {self.max_reads:,} history "
                "values (rows x keys of each sampledHistory spec, every events "
                "row, before sampling); ask for fewer runs, keys or specs per "
                "request, or a step window (minStep/maxStep)"
            )
        self.reads_spent += count

    def spend_bytes(self, count: int) -> None:
        """Charge about ``count`` bytes of output to this response's byte cap."""
        self.bytes_spent += count
        if self.bytes_spent > self.max_bytes:
            raise self.refuse(
                f"this response would be larger than {self.max_bytes:,} bytes; "
                "ask for less in one request (a smaller per_page, fewer fields "
                "or aliases, or lower samples)"
            )
        if self.stopped:
            self.check()


def request_context(info: GraphQLResolveInfo) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


def charged(info: GraphQLResolveInfo, value: Any) -> Any:
    """``value`` after charging its size to the response; the cheap estimate
    for plain fields (strings by length, anything else a few bytes)."""
    context = request_context(info)
    context.spend_bytes(len(value) + 8 if isinstance(value, (str, bytes)) else 8)
    return value
