# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Issue 17 item 7: ``$regex`` compile work is bounded per request: distinct
patterns capped, compiling after the deadline check, failures remembered,
each pattern compiled once per request whatever others evict."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import re2

from runs_server.graphql.limits import TIMED_OUT
from runs_server.http.app import ServerConfig
from runs_server.listing.regex import MAX_PATTERNS_PER_REQUEST
from runs_server.store import Store, sqlfunctions
from tests.reliability.conftest import TALLY
from tests.reliability.servers import file_store
from tests.server_bounds.memory import measured

PAGE = 'query($f: JSONString) { project(name: "big", entityName: "load") { runs(first: 1000, filters: $f) { edges { node { name } } } } }'
_fresh = itertools.count()


def patterns(count: int, *, valid: bool = True) -> list[str]:
    """``count`` patterns no earlier test compiled (each matches every run name)."""
    run = next(_fresh)
    return [f"r|x{run}y{i}" + ("" if valid else "(") for i in range(count)]


def any_of(pats: list[str]) -> str:
    return orjson.dumps({"$or": [{"name": {"$regex": p}} for p in pats]}).decode()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = file_store(tmp_path_factory.mktemp("regex"))
    yield store
    store.close()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every RE2 compile from now on; each also empties the shared cache, as
    a busy server's other requests would."""
    seen: list[str] = []
    real = re2.compile

    def counting(pattern: str, *args: Any) -> Any:
        seen.append(pattern)
        getattr(sqlfunctions, "_shared", sqlfunctions.compiled_regex).cache_clear()
        return real(pattern, *args)

    monkeypatch.setattr(sqlfunctions.re2, "compile", counting)
    return seen


def test_too_many_distinct_patterns_are_refused(
    store: Store, compiles: list[str]
) -> None:
    TALLY["bad_inputs"] += 1
    body, _ = measured(store, PAGE, {"f": any_of(patterns(396))})
    (error,) = body["errors"]
    assert (
        f"more than {MAX_PATTERNS_PER_REQUEST} distinct $regex patterns"
        in error["message"]
    )
    assert len(compiles) == MAX_PATTERNS_PER_REQUEST  # the rest never compiled


def test_each_pattern_compiles_once_per_request(
    store: Store, compiles: list[str]
) -> None:
    pats = patterns(MAX_PATTERNS_PER_REQUEST)
    body, _ = measured(store, PAGE, {"f": any_of(pats)})
    assert len(body["data"]["project"]["runs"]["edges"]) == 1000
    # 1,000 runs x 64 patterns searched; each compiled once although every
    # compile emptied the shared cache
    assert sorted(compiles) == sorted(pats)


def test_failed_patterns_are_remembered(store: Store, compiles: list[str]) -> None:
    TALLY["bad_inputs"] += 1
    (bad,) = patterns(1, valid=False)
    aliases = " ".join(
        f'a{i}: project(name: "big", entityName: "load") {{ runs(filters: $f) {{ edges {{ node {{ name }} }} }} }}'
        for i in range(200)
    )
    body, _ = measured(
        store, f"query($f: JSONString) {{ {aliases} }}", {"f": any_of([bad])}
    )
    assert all("invalid $regex" in e["message"] for e in body["errors"])
    assert len(body["errors"]) == 200
    assert compiles == [bad]


def test_no_pattern_compiles_past_the_deadline(
    store: Store, compiles: list[str]
) -> None:
    config = ServerConfig(request_seconds=0.0)
    time.sleep(0.001)
    pats = patterns(3, valid=False)
    counts = " ".join(
        f'a{i}: project(name: "big", entityName: "load") {{ runCount(filters: {orjson.dumps(any_of([p])).decode()}) }}'
        for i, p in enumerate(pats)
    )
    body, _ = measured(store, "{ " + counts + " }", config=config)
    assert body["errors"][0]["extensions"]["code"] == TIMED_OUT
    assert compiles == []
