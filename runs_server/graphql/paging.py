"""Forward paging shared by the connections other than runs (projects, sweeps,
users, teams): page sizes, opaque ``base64("<kind>:<key>")`` cursors, and the
connection dictionaries they resolve to."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from graphql import GraphQLError

from runs_server.graphql.limits import DEFAULT_FIRST, MAX_FIRST


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def page_size(first: int | None, what: str) -> int:
    size = DEFAULT_FIRST if first is None else first
    if not 0 <= size <= MAX_FIRST:
        raise GraphQLError(
            f"first must be between 0 and {MAX_FIRST} {what} per page, got {size}"
        )
    return size


def forward_only(what: str, before: str | None, last: int | None) -> None:
    """W&B's connections also page backwards; ours page forward only."""
    if before is not None or last is not None:
        raise GraphQLError(
            f"{what}(before:, last:) are not supported: page forward with first "
            "and after (the previous page's endCursor)"
        )


def cursor_key(after: str | None, kind: str) -> str | None:
    """The key a ``kind`` cursor points after; None for no cursor."""
    if not after:
        return None
    try:
        text = base64.b64decode(after.encode("ascii"), validate=True).decode()
    except (ValueError, UnicodeError, binascii.Error):
        text = ""
    prefix, colon, key = text.partition(":")
    if prefix != kind or not colon:
        raise GraphQLError(
            f"malformed cursor {after[:40]!r}; pass the endCursor of the previous page"
        )
    return key


def after_id(after: str | None, kind: str) -> int:
    """The id a ``kind`` cursor (``base64("<kind>:<id>")``) points after; 0 for none."""
    key = cursor_key(after, kind)
    if key is None:
        return 0
    if not key.isdigit():
        raise GraphQLError(
            f"malformed cursor {(after or '')[:40]!r}; pass the endCursor of the "
            "previous page"
        )
    return int(key)


def connection(
    items: list[Any], keys: list[Any], size: int, kind: str
) -> dict[str, Any]:
    """A forward connection over ``items`` (fetched ``size + 1``) keyed by ``keys``."""
    shown = items[:size]
    cursors = [b64(f"{kind}:{key}") for key in keys[:size]]
    return {
        "edges": [
            {"node": item, "cursor": cursor}
            for item, cursor in zip(shown, cursors, strict=True)
        ],
        "pageInfo": {
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
            "hasNextPage": len(items) > size,
            "hasPreviousPage": False,
        },
        "totalCount": None,
    }
