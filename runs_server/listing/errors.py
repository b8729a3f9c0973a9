"""Errors of the run-listing layer (filters, order, cursors).

Each is a ``ValueError`` whose message names the problem and the accepted form,
so resolvers can pass it to the client as a GraphQL error unchanged.
"""

from __future__ import annotations

import json

__all__ = ["CursorError", "FilterError", "ListingError", "OrderError", "show"]


class ListingError(ValueError):
    """Bad input to the run-listing layer; the message is fit for end users."""


class FilterError(ListingError):
    """A ``filters`` argument that is not a valid filter."""


class OrderError(ListingError):
    """An ``order`` argument that names no sortable field."""


class CursorError(ListingError):
    """An ``after`` cursor that this server did not produce for this order."""


def show(text: str, limit: int = 80) -> str:
    """``text`` quoted for an error message: ASCII-safe, shortened if long."""
    short = text if len(text) <= limit else text[:limit] + "..."
    return json.dumps(short)
