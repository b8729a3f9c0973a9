"""RE2 ``$regex`` support: validation at compile time, bounded per request.

At run time the store's connection provides the SQL function
(``runs_server.store.sqlfunctions``). Within ``regex_budget`` (one per
request) each distinct pattern is compiled once, after the request's
deadline check, and served to the SQL function from the request's own table,
so other requests' patterns never evict it (no thrashing of the shared
cache); a request may use at most MAX_PATTERNS_PER_REQUEST distinct patterns.
Patterns that fail to compile are remembered, so repeating one costs nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import re2

from runs_server.listing.errors import FilterError, show
from runs_server.store.sqlfunctions import (
    REGEX_FUNCTION,
    compiled_regex,
    install_functions,
    request_patterns,
)

__all__ = [
    "MAX_PATTERNS_PER_REQUEST",
    "REGEX_FUNCTION",
    "compile_regex",
    "install_functions",
    "regex_budget",
]

MAX_PATTERN_CHARS = 10_000
MAX_PATTERNS_PER_REQUEST = 64
# Patterns known not to compile, with the message they got (oldest forgotten).
MAX_REMEMBERED_FAILURES = 4096
_failures: OrderedDict[str, str] = OrderedDict()
_failures_lock = threading.Lock()


class _Budget:
    def __init__(self, check: Callable[[], None]) -> None:
        self.check = check
        self.seen: set[str] = set()


_budget = threading.local()


@contextmanager
def regex_budget(check: Callable[[], None]) -> Iterator[None]:
    """Bound the ``$regex`` work of one request (on this thread): ``check``
    raises once the request must stop (its deadline, a hang-up)."""
    _budget.current = _Budget(check)
    try:
        with request_patterns():
            yield
    finally:
        _budget.current = None


def compile_regex(pattern: str) -> None:
    """Check that ``pattern`` is a valid RE2 pattern, or raise FilterError."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FilterError(
            f"$regex pattern is {len(pattern)} characters long; "
            f"at most {MAX_PATTERN_CHARS} are accepted"
        )
    budget: _Budget | None = getattr(_budget, "current", None)
    if budget is not None and pattern not in budget.seen:
        if len(budget.seen) >= MAX_PATTERNS_PER_REQUEST:
            raise FilterError(
                f"this request uses more than {MAX_PATTERNS_PER_REQUEST} distinct "
                f"$regex patterns (at {show(pattern)}); join alternatives into one "
                'pattern ("a|b") or split the request'
            )
        budget.seen.add(pattern)
        budget.check()  # compiling is work: not past the deadline
    with _failures_lock:
        failed = _failures.get(pattern)
    if failed is not None:
        raise FilterError(failed)
    try:
        compiled_regex(pattern)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        message = (
            f"invalid $regex {pattern!r}: {detail}; accepted: an RE2 pattern "
            "(https://github.com/google/re2/wiki/Syntax), searched, not anchored"
        )
        with _failures_lock:
            _failures[pattern] = message
            if len(_failures) > MAX_REMEMBERED_FAILURES:
                _failures.popitem(last=False)
        raise FilterError(message) from None
