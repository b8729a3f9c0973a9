"""Dropping optional Run fields from the printed operations (optional_fields)."""

from __future__ import annotations

import pytest
import runs_gql.operations as ops

from runs_client import GraphQLError
from runs_client._exceptions import RequestInfo
from runs_client.transport.optional_fields import (
    OptionalFields,
    fill_dropped,
    missing_run_field,
    unused_variables,
)


def learned(*fields: str) -> OptionalFields:
    optional = OptionalFields()
    for field in fields:
        optional.learn(field)
    return optional


def test_a_field_line_is_dropped_with_its_selection_noted() -> None:
    query, dropped = learned("host").without(ops.RUNS_PAGE_GQL)
    assert "\n  host\n" in ops.RUNS_PAGE_GQL and "host" not in query
    assert "hostname" not in query and "commit" in query
    [(name, siblings)] = dropped
    assert name == "host" and {"commit", "notes", "user", "id"} <= siblings
    assert "host" not in siblings


def test_a_field_with_arguments_and_its_unused_variable_go() -> None:
    query, dropped = learned("events").without(ops.RUNS_MIRROR_PAGE_GQL)
    assert "events(" not in query and [d[0] for d in dropped] == ["events"]
    assert dropped[0][1] == frozenset({"history"})
    pruned, unused = unused_variables(query)
    assert unused == {"eventsSamples"} and "$eventsSamples" not in pruned
    assert "$samples: Int, $minStep: Int64, $maxStep: Int64)" in pruned


def test_a_field_read_alone_cannot_be_dropped() -> None:
    with pytest.raises(ValueError, match="events"):
        learned("events").without(ops.RUN_EVENTS_GQL)
    with pytest.raises(ValueError, match="events"):  # only name would remain
        learned("events").without(ops.RUNS_EVENTS_PAGE_GQL)
    with pytest.raises(GraphQLError, match=r"does not serve Run\.events"):
        learned("events").prepared(RequestInfo("POST", "u"), ops.RUN_EVENTS_GQL, {})


def test_nothing_learned_sends_the_operation_unchanged() -> None:
    info = RequestInfo("POST", "u")
    assert OptionalFields().prepared(info, ops.RUNS_PAGE_GQL, {"a": 1}) == (
        ops.RUNS_PAGE_GQL,
        [],
        {"a": 1},
    )


def test_dropped_fields_read_as_null_only_where_selected() -> None:
    data = {
        "project": {
            "name": "p",  # a project: not a run node, left alone
            "runs": {"edges": [{"node": {"name": "a", "history": []}}, {"x": 1}]},
        }
    }
    fill_dropped(data, [("events", frozenset({"history"}))])
    assert data["project"]["runs"]["edges"][0]["node"] == {  # type: ignore[index]
        "name": "a",
        "history": [],
        "events": None,
    }
    assert "events" not in data["project"]
    assert data["project"]["runs"]["edges"][1] == {"x": 1}  # type: ignore[index]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Cannot query field 'host' on type 'Run'.", "host"),
        ('Cannot query field "updatedAt" on type "Run".', "updatedAt"),
        ("Cannot query field 'name' on type 'Run'.", None),  # not optional
        ("Cannot query field 'host' on type 'Project'.", None),
        ("something else", None),
    ],
)
def test_which_errors_name_an_optional_field(message: str, field: str | None) -> None:
    error = GraphQLError("x", errors=[{"message": message}])
    assert missing_run_field(error) == field


def test_a_numeric_string_project_id_reads_as_an_int() -> None:
    # Run.projectId's type is weakly shown (Int or ID): either wire form fits.
    from runs_gql import RunFields

    base = {
        "id": "r", "name": "r", "displayName": None, "state": None, "config": None,
        "summaryMetrics": None, "systemMetrics": None, "historyKeys": None,
        "historyLineCount": None, "tags": None, "group": None, "jobType": None,
        "commit": None, "host": None, "notes": None, "description": None,
        "sweepName": None, "readOnly": None, "createdAt": "2024-01-01T00:00:00",
        "heartbeatAt": None, "updatedAt": None, "user": None,
    }  # fmt: skip
    assert RunFields.model_validate({**base, "projectId": "17"}).project_id == 17
    assert RunFields.model_validate({**base, "projectId": 17}).project_id == 17
