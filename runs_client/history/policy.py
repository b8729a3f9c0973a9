"""How histories() pages: the row budgets, the server's caps, requests in
flight, and which refusals mean "ask for less" or "ask run by run"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .._exceptions import (
    GraphQLError,
    TimeoutError,
)

__all__ = [
    "FULL_ROW_BUDGET",
    "MAX_IN_FLIGHT",
    "MAX_RUNS_PER_REQUEST",
    "MAX_SPECS",
    "MAX_WIDTH",
    "ROW_BUDGET",
    "SAMPLED_SHARE",
    "StepWindows",
    "is_too_large",
    "lacks_sampled_history",
    "refuses_bulk",
]

# History rows asked per request: 120 runs x 500 samples is one request, and a
# page of rows parsed into dicts stays far below a few hundred MB.
ROW_BUDGET = 64_000
# The default budget for full history rows (every key): a full row is several
# times the bytes of a sampled row of a few keys, and pages of full rows are
# what a long export holds in memory while it converts them.
FULL_ROW_BUDGET = 32_000
# The server's caps: runs per page (``first``) and specs per sampledHistory.
MAX_RUNS_PER_REQUEST = 1000
MAX_SPECS = 100
# Requests in flight at once (the server and the network work while we parse).
MAX_IN_FLIGHT = 3
# Names per ``$in`` filter stay well inside the server's size limits anyway,
# since a chunk is at most MAX_RUNS_PER_REQUEST names.
_HISTORY_FIELDS = frozenset({"history", "sampledHistory", "events"})
_LACKS_SAMPLED = re.compile(
    r"""Cannot query field ["']sampledHistory["'] on type ["']Run["']"""
)
# Machine-readable codes of a size refusal; the message is the fallback for
# servers that send no code.
_TOO_LARGE_CODES = frozenset({"RESPONSE_TOO_LARGE", "TOO_LARGE"})
_TOO_LARGE_MESSAGES = ("history rows in one response", "too large")


def _errors(exc: GraphQLError) -> list[dict[str, Any]]:
    return [e for e in exc.errors if isinstance(e, dict)]


def is_too_large(exc: Exception) -> bool:
    """A refusal for size (or a timeout): the page is worth asking as halves."""
    if isinstance(exc, TimeoutError):
        return True
    if not isinstance(exc, GraphQLError):
        return False
    for error in _errors(exc):
        extensions = error.get("extensions")
        if isinstance(extensions, dict) and "code" in extensions:
            if extensions["code"] in _TOO_LARGE_CODES:
                return True
            continue
        message = str(error.get("message", ""))
        if any(m in message for m in _TOO_LARGE_MESSAGES):
            return True
    return False


def lacks_sampled_history(exc: Exception) -> bool:
    """A server without ``Run.sampledHistory`` (its result type is weakly
    shown by public sources; see tests/contract/evidence)."""
    return isinstance(exc, GraphQLError) and any(
        _LACKS_SAMPLED.search(str(e.get("message", ""))) for e in _errors(exc)
    )


def refuses_bulk(exc: Exception) -> bool:
    """A GraphQL error pointing into a node's history field of ``project.runs``,
    or a server without ``sampledHistory`` (each run is then read alone)."""
    if not isinstance(exc, GraphQLError) or is_too_large(exc):
        return False
    if lacks_sampled_history(exc):
        return True
    for error in _errors(exc):
        path = error.get("path")
        if (
            isinstance(path, list)
            and "edges" in path
            and path
            and path[-1] in _HISTORY_FIELDS
        ):
            return True
    return False


# A window's answer this close to the rows asked per run may have been
# sampled down by the server (W&B samples approximately), so it is asked
# again in halves rather than trusted.
SAMPLED_SHARE = 0.9
# Widths never grow past this (steps are 64-bit on the server).
MAX_WIDTH = 2**62


class StepWindows:
    """Step windows ``[low, high)`` that walk ``[start, stop)`` and adapt.

    A fixed width costs one request per window whatever it holds: a run of
    64,000 rows whose steps reach 10^13 took about 156 million requests. So a
    window whose rows came whole moves on from its end and is resized to aim
    at ``rows`` (the row budget of one request; half of it once wider than
    ``cap``): an empty window grows (doubles), a dense one shrinks, a sparse
    one grows up to four times. A window wider than
    ``cap`` (the rows asked per run) whose answer for some run came near
    ``cap`` may have been sampled: ``shrink`` it (to its answer's middle
    step) and ask again; a refused one likewise (to half). Requests stay
    O(rows / budget + log(step range)).
    """

    def __init__(self, start: int, stop: int, *, width: int, rows: int, cap: int):
        self.low = start
        self.stop = stop
        self.width = max(1, width)
        self.rows = max(1, rows)
        self.cap = max(1, cap)

    def next(self) -> tuple[int, int] | None:
        """The next window, or None when the walk is done."""
        if self.low >= self.stop:
            return None
        return self.low, min(self.low + self.width, self.stop)

    def maybe_sampled(self, high: int, counts: Iterable[int]) -> bool:
        """Whether the answer for ``[low, high)`` may hold fewer rows than
        there are (only a window wider than ``cap`` steps can)."""
        if high - self.low <= self.cap:  # steps are unique: never sampled
            return False
        return any(count >= self.cap * SAMPLED_SHARE for count in counts)

    def shrink(self, to: int | None = None) -> bool:
        """Narrow the window (refused or maybe sampled): to end before step
        ``to`` if given (e.g. the middle step of a sampled answer, so that the
        rows asked again halve), else to half its width. False if it cannot
        narrow (one step)."""
        window = self.next()
        if window is None or window[1] - self.low <= 1:
            return False
        low, high = window
        end = to if to is not None and low < to < high else low + (high - low) // 2
        self.width = max(1, end - low)
        return True

    def done(self, high: int, rows: int) -> None:
        """``[low, high)`` came whole with ``rows`` rows: move on, resize."""
        width = high - self.low
        self.low = high
        if rows == 0:
            self.width = min(MAX_WIDTH, max(2 * self.width, 2 * width))
            return
        aim = width * self.rows // rows
        if aim > self.cap:  # room below cap, to tell a whole answer from a sample
            aim = max(self.cap, width * (self.rows // 2) // rows)
        self.width = max(1, min(MAX_WIDTH, aim, 4 * max(width, 1)))
