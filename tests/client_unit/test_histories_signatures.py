"""The typed overloads of ``histories()`` and ``iter_histories()`` are
written once (``runs_histories.HistoriesMethod``, ``IterHistoriesMethod``)
and typed onto ``Runs`` and ``AsyncRuns``; the implementations behind them
are plain functions no type checker compares with those overloads. This
checks that they agree: every overload's parameters, in order, kinds (or
made keyword-only) and defaults, are the implementation's, and the overloads
cover every format."""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any

import pytest

from runs_client import AsyncRuns, Runs
from runs_client import runs_histories as module

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="typing.get_overloads is 3.11+"
)

FORMATS = {"default", "pandas", "polars", "arrow"}
POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
KEYWORD = inspect.Parameter.KEYWORD_ONLY


def overloads(protocol: str) -> list[Callable[..., Any]]:
    def key() -> None: ...

    key.__module__ = module.__name__
    key.__qualname__ = f"{protocol}.__call__"
    return list(typing.get_overloads(key))


@pytest.mark.parametrize(
    ("protocol", "method", "count"),
    [
        ("HistoriesMethod", "histories", 7),
        ("IterHistoriesMethod", "iter_histories", 4),
    ],
)
@pytest.mark.parametrize("collection", [Runs, AsyncRuns])
def test_overloads_match_the_implementation(
    protocol: str, method: str, count: int, collection: type
) -> None:
    found = overloads(protocol)
    assert len(found) == count
    implementation = inspect.signature(getattr(collection, method))
    params = list(implementation.parameters.values())[1:]  # without self
    formats = set()
    for overload in found:
        given = list(inspect.signature(overload).parameters.values())[1:]
        assert [p.name for p in given] == [p.name for p in params], overload
        for mine, theirs in zip(given, params, strict=True):
            # an overload may make a parameter keyword-only, nothing else
            narrowed = (theirs.kind, mine.kind) == (POSITIONAL, KEYWORD)
            assert mine.kind == theirs.kind or narrowed, (overload, mine.name)
            if mine.default is not inspect.Parameter.empty:
                assert mine.default == theirs.default, (overload, mine.name)
        hints = typing.get_type_hints(overload, vars(module))
        formats |= set(typing.get_args(hints["format"]))
    assert formats == FORMATS
    assert getattr(collection, method).__name__ == method
    assert "resume" in (getattr(collection, method).__doc__ or "")
