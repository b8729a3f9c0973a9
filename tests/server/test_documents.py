"""The cache of parsed and validated documents (runs_server.graphql.documents):
bounded, and giving the errors a whole validation gives, asked once or again."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import specified_rules, validate

from runs_server.graphql.cost import cost_rule
from runs_server.graphql.documents import DocumentCache, validator
from runs_server.graphql.limits import QueryShapeRule
from runs_server.graphql.schema import executable_schema
from tests.server.conftest import Gql

# 101 aliased fields per run: 1,000 runs a page cost over 100,000 fields,
# 10 runs a page about 1,000.
WIDE = (
    'query Wide($n: Int) { project(name: "mnist", entityName: "demo") { '
    "runs(first: $n) { edges { node { "
    + " ".join(f"a{i}: name" for i in range(101))
    + " } } } } }"
)
LISTING = (
    'query Listing($n: Int) { project(name: "mnist", entityName: "demo") { '
    "runs(first: $n) { edges { node { name } } } } }"
)
DOCUMENTS: list[tuple[str, dict[str, Any]]] = [
    (LISTING, {"n": 2}),
    (WIDE, {"n": 10}),
    (WIDE, {"n": 1000}),  # over the cost cap
    ("{ viewer { nosuchfield } }", {}),  # a spec error
    ("query A { viewer { id } } query A { viewer { id } }", {}),  # two errors
    (WIDE + " query Other { viewer { id } }", {"n": 1000}),  # cost, two ops
]


def _whole(query: str, variables: dict[str, Any]) -> list[str]:
    """What graphql-core's own validate says, every rule at once."""
    schema = executable_schema()
    cache = DocumentCache()
    entry = cache.entry(query)
    assert entry is not None
    rules = [*specified_rules, QueryShapeRule, cost_rule(variables)]
    return [e.message for e in validate(schema, entry.document, rules)]


@pytest.mark.parametrize(("query", "variables"), DOCUMENTS)
def test_cached_checks_give_the_whole_validations_errors(
    query: str, variables: dict[str, Any]
) -> None:
    schema = executable_schema()
    cache = DocumentCache()
    expected = _whole(query, variables)
    for _ in range(3):  # the first look checks the text, the others reuse it
        entry = cache.entry(query)
        assert entry is not None
        found = validator(entry, variables)(schema, entry.document)
        assert [e.message for e in found] == expected


def test_a_cached_text_is_still_refused_for_costly_variables() -> None:
    schema = executable_schema()
    cache = DocumentCache()
    entry = cache.entry(WIDE)
    assert entry is not None
    assert list(validator(entry, {"n": 10})(schema, entry.document)) == []
    assert cache.entry(WIDE) is entry  # kept: neither parsed nor checked again
    errors = list(validator(entry, {"n": 1000})(schema, entry.document))
    assert len(errors) == 1
    assert errors[0].extensions == {"code": "RESPONSE_TOO_LARGE"}


def _checked(cache: DocumentCache, text: str) -> list[str]:
    """Look ``text`` up and run its checks, as a request does."""
    entry = cache.entry(text)
    assert entry is not None
    schema = executable_schema()
    return [e.message for e in validator(entry, {})(schema, entry.document)]


def test_the_cache_is_bounded() -> None:
    cache = DocumentCache(max_entries=2, max_query_chars=40, max_total_chars=60)
    texts = ["{ viewer { id } }", "{ viewer { username } }", "{ viewer { email } }"]
    for text in texts:
        assert _checked(cache, text) == []
    assert len(cache) == 2
    assert cache.peek(texts[0]) is None  # the least recently used left
    assert cache.peek(texts[2]) is not None
    assert cache.entry("{ viewer { " + "id " * 20 + "} }") is None  # too long
    assert cache.entry("{ viewer { ") is None  # does not parse
    assert cache.entry(None) is None
    assert len(cache) == 2 and cache.chars == len(texts[1]) + len(texts[2])


def test_the_cache_keeps_at_most_its_characters() -> None:
    cache = DocumentCache(max_entries=10, max_query_chars=40, max_total_chars=40)
    texts = ["{ viewer { id } }", "{ viewer { username } }", "{ viewer { email } }"]
    for text in texts:
        assert _checked(cache, text) == []
        assert cache.chars <= 40
    assert [cache.peek(t) is not None for t in texts] == [False, False, True]


def test_texts_that_fail_their_checks_are_not_kept() -> None:
    """Junk texts (valid syntax, unknown fields) are parsed per request: a
    stream of distinct ones never fills the cache."""
    cache = DocumentCache()
    for i in range(50):
        errors = _checked(cache, f"{{ a{i} b c }}")
        assert errors and "Cannot query field" in errors[0]
    assert len(cache) == 0 and cache.chars == 0
    assert _checked(cache, "{ viewer { id } }") == []
    assert len(cache) == 1


def test_the_server_answers_a_text_again_with_other_variables(gql: Gql) -> None:
    first = gql(LISTING, {"n": 1})
    again = gql(LISTING, {"n": 3})
    assert len(first["data"]["project"]["runs"]["edges"]) == 1
    assert len(again["data"]["project"]["runs"]["edges"]) == 3
    refused = gql(WIDE, {"n": 1000})
    assert refused["errors"][0]["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert "data" not in refused or refused["data"] is None
