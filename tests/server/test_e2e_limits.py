# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Query depth and size caps; they must still admit the introspection query."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from graphql import get_introspection_query, parse, specified_rules, validate

from runs_server.graphql.cost import cost_rule
from runs_server.graphql.limits import (
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_QUERY_BYTES,
    QueryShapeRule,
)
from runs_server.graphql.schema import executable_schema
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


def fragment_bomb(levels: int) -> str:
    """Each fragment spreads the next twice: 2**levels fields from a tiny document."""
    fragments = "".join(
        f"fragment L{i} on Project {{ ...L{i + 1} ...L{i + 1} }}\n"
        for i in range(levels)
    )
    return (
        '{ project(name: "mnist", entityName: "demo") { ...L0 } }\n'
        + fragments
        + f"fragment L{levels} on Project {{ name }}"
    )


class OverBudget(Exception):
    """Validation took more calls than the budget: stopped there."""


def validation_calls(query: str, budget: float) -> tuple[int, list[str]]:
    """The Python function calls validating ``query`` takes (graphql-core's
    own rules and the server's, as the endpoint runs them), and the errors;
    OverBudget past ``budget`` calls, so an uncapped walk fails, never hangs."""
    document = parse(query)
    rules = [*specified_rules, QueryShapeRule, cost_rule({})]
    calls = 0

    def count(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal calls
        calls += event == "call"
        if calls > budget:
            sys.setprofile(None)
            raise OverBudget(f"validation took over {budget:,.0f} calls")

    sys.setprofile(count)
    try:
        errors = validate(executable_schema(), document, rules)
    finally:
        sys.setprofile(None)
    return calls, [error.message for error in errors]


def test_fragment_bomb_is_capped_quickly(gql: Gql) -> None:
    """Counted in work, not wall time (which fails on a loaded machine): a
    bomb of 2**30 fields takes no more validation than one of 2**20 (an
    uncapped walk would take 1,024 times as much), and is refused before a
    resolver runs."""
    body = gql(fragment_bomb(30))
    assert f"more than {MAX_FIELDS} fields" in errors_of(body)
    assert body.get("data") is None
    small, small_errors = validation_calls(fragment_bomb(20), budget=50_000_000)
    large, large_errors = validation_calls(fragment_bomb(30), budget=small * 1.1)
    assert any(f"more than {MAX_FIELDS} fields" in e for e in small_errors)
    assert any(f"more than {MAX_FIELDS} fields" in e for e in large_errors)
    assert large <= small * 1.1, (small, large)


def test_query_text_cap(gql: Gql) -> None:
    query = "{ viewer { id } }" + " " * MAX_QUERY_BYTES
    assert "query text over" in errors_of(gql(query))
