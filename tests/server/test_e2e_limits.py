# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Query depth and size caps; they must still admit the introspection query."""

from __future__ import annotations

import time

import pytest
from graphql import get_introspection_query

from runs_server.graphql.limits import MAX_DEPTH, MAX_FIELDS, MAX_QUERY_BYTES
from tests.server.conftest import Gql, errors_of

pytestmark = pytest.mark.e2e


def test_introspection_fits_the_caps(gql: Gql) -> None:
    for kwargs in (
        {},
        {"descriptions": True, "specified_by_url": True, "schema_description": True},
    ):
        body = gql(get_introspection_query(**kwargs))
        assert "errors" not in body


def test_depth_cap(gql: Gql) -> None:
    nested = (
        '{ project(name: "mnist", entityName: "demo") { '
        + 'run(name: "x") { project { ' * 12
        + "name"
        + " } }" * 12
        + " } }"
    )
    message = errors_of(gql(nested))
    assert f"the limit is {MAX_DEPTH}" in message


def test_depth_cap_sees_through_fragments(gql: Gql) -> None:
    fragments = "".join(
        f'fragment F{i} on Project {{ run(name: "x") {{ project {{ ...F{i + 1} }} }} }}\n'
        for i in range(12)
    )
    query = (
        '{ project(name: "mnist", entityName: "demo") { ...F0 } }\n'
        + fragments
        + "fragment F12 on Project { name }"
    )
    assert f"the limit is {MAX_DEPTH}" in errors_of(gql(query))


def test_size_cap(gql: Gql) -> None:
    fields = " ".join(f"a{i}: runCount" for i in range(MAX_FIELDS + 1))
    body = gql('{ project(name: "mnist", entityName: "demo") { ' + fields + " } }")
    assert f"more than {MAX_FIELDS} fields" in errors_of(body)


def test_fragment_bomb_is_capped_quickly(gql: Gql) -> None:
    # each fragment spreads the next twice: 2**30 fields from a tiny document
    fragments = "".join(
        f"fragment L{i} on Project {{ ...L{i + 1} ...L{i + 1} }}\n" for i in range(30)
    )
    query = (
        '{ project(name: "mnist", entityName: "demo") { ...L0 } }\n'
        + fragments
        + "fragment L30 on Project { name }"
    )
    started = time.perf_counter()
    assert f"more than {MAX_FIELDS} fields" in errors_of(gql(query))
    assert time.perf_counter() - started < 2


def test_query_text_cap(gql: Gql) -> None:
    query = "{ viewer { id } }" + " " * MAX_QUERY_BYTES
    assert "query text over" in errors_of(gql(query))
