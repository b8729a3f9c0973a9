"""The official SDK's runs-workflow documents run against the server without errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.test_sdk_operations import SDK_OPERATIONS
from tests.server.conftest import Gql

pytestmark = pytest.mark.e2e

VARIABLES: dict[str, Any] = {
    "project": "exact",
    "entity": "test",
    "name": "cadence",
    "run": "cadence",
    "specs": [json.dumps({"keys": ["_step", "loss"], "samples": 500})],
    "samples": 500,
    "minStep": 0,
    "maxStep": 50,
    "pageSize": 1000,
    "perPage": 50,
    "order": "+created_at",
    "filters": "{}",
    "cursor": None,
}


@pytest.mark.parametrize("name", sorted(SDK_OPERATIONS))
def test_sdk_operation_runs(gql: Gql, name: str) -> None:
    variables = dict(VARIABLES)
    if name == "sweep":
        variables.update(project="mnist", entity="demo", name="swp2efgh")
    body = gql(SDK_OPERATIONS[name], variables)
    assert "errors" not in body, body
    data = body["data"]
    if name != "viewer":
        assert data["project"] is not None
        found = (
            data["project"].get("run")
            or data["project"].get("runs")
            or data["project"].get("sweep")
        )
        assert found
    if name == "history_scan":
        rows = data["project"]["run"]["history"]
        assert len(rows) == 50
