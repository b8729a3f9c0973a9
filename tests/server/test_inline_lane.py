"""The cheapest requests run on the event loop itself (``lanes.inline_body``,
``cost.is_inline``): a text parsed and validated before, at most 1,000
fields, no history, runs unfiltered in their creation order."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from graphql import parse

from runs_server.graphql.cost import is_inline
from runs_server.graphql.documents import DocumentCache
from runs_server.http.app import RunsServerApp
from runs_server.http.lanes import inline_body
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

LISTING = """
query Listing($order: String, $filters: JSONString, $first: Int) {
  project(entityName: "e", name: "p") {
    runs(first: $first, order: $order, filters: $filters) {
      edges { node { id name displayName state config summaryMetrics tags group
                     createdAt heartbeatAt user { username } } }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("variables", "inline"),
    [
        ({"first": 50, "order": "-created_at"}, True),
        ({"first": 50, "order": "+createdAt"}, True),
        ({"first": 50}, True),  # the default order: creation time
        ({"first": 50, "filters": None}, True),
        ({"first": 50, "filters": "{}"}, True),
        ({"first": 50, "order": "-summary_metrics.loss"}, False),  # a sort
        ({"first": 50, "order": "+name"}, False),
        ({"first": 50, "order": "+config.lr"}, False),
        ({"first": 50, "filters": '{"state": "finished"}'}, False),  # a scan
        ({"first": 100}, False),  # 100 x 12 fields: over 1,000
        ({"first": 50, "order": "+no_such_field"}, False),  # refused, on a thread
    ],
)
def test_a_listing_page_is_inline_when_cheap_and_in_index_order(
    variables: dict[str, object], inline: bool
) -> None:
    assert is_inline(parse(LISTING), variables) is inline


def test_history_and_literal_arguments() -> None:
    def runs(arguments: str, fields: str = "name") -> str:
        edges = f"edges {{ node {{ {fields} }} }}"
        return f'{{ project(name: "p") {{ runs({arguments}) {{ {edges} }} }} }}'

    assert not is_inline(parse(runs("first: 2", "history")), {})
    assert is_inline(parse(runs('first: 5, order: "-created_at"')), {})
    assert not is_inline(parse(runs('first: 5, order: "+name"')), {})
    assert not is_inline(parse(runs("first: 5, order: 3")), {})  # not a text


def test_mutations_never_run_inline() -> None:
    # A write may wait for another process's write lock: never on the loop.
    mutation = 'mutation { upsertBucket(input: {name: "r"}) { bucket { id } } }'
    assert not is_inline(parse(mutation), {})
    assert is_inline(parse("query { viewer { username } }"), {})


def test_only_texts_validated_before_go_inline() -> None:
    documents = DocumentCache()
    text = "{ viewer { username } }"
    body = orjson.dumps({"query": text})
    assert not inline_body(body, documents)  # never seen: a thread parses it
    entry = documents.entry(text)  # parsed; kept once it passed validation
    assert entry is not None and entry.keep is not None
    entry.keep(entry)
    assert inline_body(body, documents)
    assert not inline_body(body, None)
    assert not inline_body(b"not json", documents)


def test_a_file_store_serves_a_repeated_cheap_request_inline(tmp_path: Path) -> None:
    with Store(str(tmp_path / "s.sqlite")) as store:
        app = RunsServerApp(store)
        assert app.lanes.inline
        with BackgroundServer(app) as server, httpx.Client(timeout=30) as http:
            for _ in range(3):
                reply = http.post(
                    server.graphql_url, json={"query": "{ viewer { username } }"}
                )
                assert reply.status_code == 200, reply.text
            # The first was validated on a thread; the next two ran inline.
            assert app.lanes.inline_served == 2


def test_a_store_in_memory_never_serves_inline() -> None:
    # Its readers share the writers' lock: a wait for it must not stall the
    # event loop (test_serving's store-lock test).
    with Store() as store:
        app = RunsServerApp(store)
        assert not app.lanes.inline
        with BackgroundServer(app) as server, httpx.Client(timeout=30) as http:
            for _ in range(3):
                http.post(server.graphql_url, json={"query": "{ viewer { username } }"})
        assert app.lanes.inline_served == 0
