# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Issue 17 item 6: a query's cost is estimated before it runs (nested
connections multiply, aliases and cheap fields count) and refused up front;
a request's peak memory stays within the stated budget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runs_server.graphql.cost import MAX_QUERY_COST
from runs_server.graphql.limits import MAX_REQUEST_MEMORY_BYTES, RESPONSE_TOO_LARGE
from runs_server.store import Store
from tests.reliability.servers import file_store
from tests.server_bounds.memory import measured

PROJECT = 'project(name: "big", entityName: "load")'
NESTED = f"{{ {PROJECT} {{ runs {{ edges {{ node {{ project {{ runs {{ edges {{ node {{ project {{ runs {{ edges {{ node {{ name }} }} }} }} }} }} }} }} }} }} }} }} }}"
ALIASES = (
    f"{{ {PROJECT} {{ "
    + " ".join(f"a{i}:runs{{edges{{node{{id}}}}}}" for i in range(1240))
    + " } }"
)
CHEAP_ALIASES = (
    f"{{ {PROJECT} {{ runs(first: 1000) {{ edges {{ node {{ "
    + " ".join(f"r{i}: readOnly" for i in range(120))
    + " } } } } }"
)
FIELDS = "id name displayName state config summaryMetrics systemMetrics historyKeys historyLineCount tags group jobType commit host notes description sweepName readOnly projectId createdAt heartbeatAt updatedAt user { id name username } project { id name entityName readOnly }"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = file_store(tmp_path_factory.mktemp("cost"))
    yield store
    store.close()


@pytest.mark.parametrize(
    "query",
    [NESTED, ALIASES, CHEAP_ALIASES],
    ids=["runs nested three deep", "1,240 aliases", "aliases of readOnly"],
)
def test_costly_queries_are_refused_before_they_run(store: Store, query: str) -> None:
    body, peak = measured(store, query)
    assert "data" not in body  # refused by validation: nothing was executed
    (error,) = body["errors"]
    assert error["extensions"]["code"] == RESPONSE_TOO_LARGE
    assert f"more than {MAX_QUERY_COST:,} fields" in error["message"]
    assert peak < MAX_REQUEST_MEMORY_BYTES // 10


def test_variables_count_as_page_sizes(store: Store) -> None:
    query = f"query($n: Int) {{ a: {PROJECT} {{ runs(first: $n) {{ edges {{ node {{ project {{ runs(first: $n) {{ edges {{ node {{ id }} }} }} }} }} }} }} }} }}"
    small, _ = measured(store, query, {"n": 3})
    assert "errors" not in small
    big, _ = measured(store, query, {"n": 1000})
    assert big["errors"][0]["extensions"]["code"] == RESPONSE_TOO_LARGE


def test_the_largest_accepted_requests_stay_within_the_memory_budget(
    store: Store,
) -> None:
    # A full page of 1,000 runs with every field, and as many aliases of a
    # default page as the estimate accepts: each near the cost limit.
    full_pages = (
        "{ "
        + " ".join(
            f"p{i}: {PROJECT} {{ runs(first: 1000) {{ edges {{ cursor node {{ {FIELDS} }} }} }} }}"
            for i in range(2)
        )
        + " }"
    )
    many = (
        f"{{ {PROJECT} {{ "
        + " ".join(f"a{i}:runs{{edges{{node{{id}}}}}}" for i in range(900))
        + " } }"
    )
    for query in (full_pages, many):
        body, peak = measured(store, query)
        assert "errors" not in body, body["errors"][0]
        assert peak < MAX_REQUEST_MEMORY_BYTES, f"peak {peak:,} bytes"
