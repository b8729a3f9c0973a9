"""The store's errors."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation that cannot be done as asked."""


class StoreVersionError(StoreError):
    """The database file was written by an incompatible server version."""
