"""RE2 ``$regex`` support: validation at compile time.

At run time the store's connection provides the SQL function
(``runs_server.store.sqlfunctions``), sharing this module's compiled patterns.
"""

from __future__ import annotations

import re2

from runs_server.listing.errors import FilterError
from runs_server.store.sqlfunctions import (
    REGEX_FUNCTION,
    compiled_regex,
    install_functions,
)

__all__ = ["REGEX_FUNCTION", "compile_regex", "install_functions"]

MAX_PATTERN_CHARS = 10_000


def compile_regex(pattern: str) -> None:
    """Check that ``pattern`` is a valid RE2 pattern, or raise FilterError."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FilterError(
            f"$regex pattern is {len(pattern)} characters long; "
            f"at most {MAX_PATTERN_CHARS} are accepted"
        )
    try:
        compiled_regex(pattern)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise FilterError(
            f"invalid $regex {pattern!r}: {detail}; accepted: an RE2 pattern "
            "(https://github.com/google/re2/wiki/Syntax), searched, not anchored"
        ) from None
