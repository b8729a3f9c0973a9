"""Opaque keyset cursors: base64url of a small JSON naming a position in an order.

A cursor holds a short digest of the canonical order it was made for (``o``;
the order itself stays out, so a cursor's size never grows with it), the
values of the order's sort-key components (``k``) and the run id (``n``).
Resuming after it means "strictly after that position", which stays correct
when runs are added or deleted between pages: nothing is yielded twice, and
no run that existed throughout is skipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from runs_server.listing.errors import CursorError
from runs_server.listing.ordering import SortOrder

__all__ = ["CursorError", "decode_cursor", "encode_cursor"]

VERSION = 2
MAX_CURSOR_CHARS = 300_000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FORM = "a cursor taken from pageInfo.endCursor or an edge of the same query"


def order_digest(order: SortOrder) -> str:
    """What a cursor records of its order: 12 hex digits of its canonical form."""
    return hashlib.sha256(order.canonical.encode("utf-8")).hexdigest()[:12]


def encode_cursor(order: SortOrder, values: tuple[object, ...], name: str) -> str:
    """The cursor of the run ``name`` whose sort-key components are ``values``."""
    body = {"v": VERSION, "o": order_digest(order), "k": list(values), "n": name}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str, order: SortOrder) -> tuple[tuple[object, ...], str]:
    """The (component values, run id) of ``cursor``; CursorError if it is not
    a cursor of this server for ``order``."""
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        raise CursorError(f"malformed cursor; accepted: {_FORM}")
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        raise CursorError(f"malformed cursor; accepted: {_FORM}") from None
    if (
        not isinstance(body, dict)
        or body.get("v") != VERSION
        or not isinstance(body.get("k"), list)
        or not isinstance(body.get("n"), str)
        or not isinstance(body.get("o"), str)
    ):
        raise CursorError(f"malformed cursor; accepted: {_FORM}")
    if body["o"] != order_digest(order):
        raise CursorError(
            f"this cursor belongs to another order than "
            f"{json.dumps(order.canonical)}; accepted: {_FORM}"
        )
    values: list[object] = body["k"]
    if len(values) != len(order.components) or not all(
        _fits(c.kind, v) for c, v in zip(order.components, values, strict=True)
    ):
        raise CursorError(f"malformed cursor; accepted: {_FORM}")
    name: str = body["n"]
    if not _fits("text", name):
        raise CursorError(f"malformed cursor; accepted: {_FORM}")
    return tuple(values), name


def _fits(kind: str, value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return False
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    if kind == "flag":
        return value in (0, 1) and isinstance(value, int)
    if kind == "rank":
        return isinstance(value, int) and 0 <= value <= 6
    if kind == "text":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float))
    return isinstance(value, (int, float, str))
