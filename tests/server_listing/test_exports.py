"""The listing modules' public names exist and are listed once."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "runs_server.listing.filters",
    "runs_server.listing.ordering",
    "runs_server.listing.cursors",
    "runs_server.listing",
    "runs_server.listing.errors",
    "runs_server.listing.fields",
    "runs_server.listing.regex",
    "runs_server.listing.sql",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_complete_and_sorted(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), attr


def test_errors_are_value_errors() -> None:
    from runs_server.listing import CursorError, FilterError, ListingError, OrderError

    for error in (CursorError, FilterError, OrderError):
        assert issubclass(error, ListingError) and issubclass(error, ValueError)
