"""Each generated result model parses a realistic response of its operation."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from runs_gql import (
    RunByName,
    RunCount,
    RunEvents,
    RunHistory,
    RunHistoryKeys,
    RunHistoryWindow,
    RunSampledHistory,
    RunsEventsPage,
    RunsHistoryPage,
    RunsPage,
    RunsSampledHistoryPage,
    SweepByName,
    Viewer,
)

ROW_WITH_NAN = '{"_step": 3, "loss": NaN, "acc": Infinity, "lr": -Infinity}'


def run_node(name: str = "abc123") -> dict[str, Any]:
    return {
        "id": "UnVuOjE=",
        "name": name,
        "displayName": "glad-sun-1",
        "state": "finished",
        "config": json.dumps(
            {"lr": {"value": 0.01, "desc": None}, "_wandb": {"value": {"cli": "0.18"}}}
        ),
        "summaryMetrics": json.dumps({"loss": 0.1, "val": {"acc": 0.9}}),
        "systemMetrics": json.dumps({"system.cpu": 12.5}),
        "historyKeys": {"lastStep": 99, "keys": {"loss": {"typeCounts": []}}},
        "historyLineCount": 100,
        "tags": ["baseline"],
        "group": "g1",
        "jobType": "train",
        "commit": "deadbeef",
        "host": "gpu-1",
        "notes": None,
        "description": None,
        "sweepName": "sw1",
        "readOnly": False,
        "projectId": 7,
        "createdAt": "2024-05-01T12:00:00",
        "heartbeatAt": "2024-05-01T13:00:00",
        "updatedAt": "2024-05-01T13:00:01",
        "user": {"name": "Ada", "username": "ada"},
    }


def page_info(has_next: bool = False) -> dict[str, Any]:
    return {"endCursor": "c1", "hasNextPage": has_next}


def test_viewer() -> None:
    viewer = Viewer.model_validate(
        {
            "viewer": {
                "id": "VXNlcjox",
                "entity": "ada",
                "username": "ada",
                "name": "Ada",
                "email": "ada@example.com",
                "flags": "{}",
                "teams": {"edges": [{"node": {"name": "lab"}}]},
            }
        }
    )
    assert viewer.viewer is not None
    assert viewer.viewer.entity == "ada"
    assert viewer.viewer.teams is not None
    assert [e.node.name for e in viewer.viewer.teams.edges if e.node] == ["lab"]


def test_runs_page_parses_json_strings_and_utc_dates() -> None:
    page = RunsPage.model_validate(
        {
            "project": {
                "runCount": 1,
                "readOnly": False,
                "runs": {
                    "edges": [{"node": run_node(), "cursor": "c1"}],
                    "pageInfo": page_info(),
                },
            }
        }
    )
    assert page.project is not None and page.project.runs is not None
    edges = page.project.runs.edges or []
    node = edges[0].node if edges[0] else None
    assert node is not None
    assert isinstance(node.config, str)
    assert json.loads(node.config)["lr"] == {"value": 0.01, "desc": None}
    assert node.history_keys == {"lastStep": 99, "keys": {"loss": {"typeCounts": []}}}
    assert node.created_at == datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert node.created_at.tzinfo is not None
    assert page.project.run_count == 1


def test_null_project() -> None:
    assert RunsPage.model_validate({"project": None}).project is None
    assert RunByName.model_validate({"project": None}).project is None
    assert RunCount.model_validate({"project": None}).project is None


def test_run_by_name_missing_run() -> None:
    result = RunByName.model_validate({"project": {"run": None}})
    assert result.project is not None and result.project.run is None


def test_run_by_name() -> None:
    result = RunByName.model_validate({"project": {"run": run_node("xyz")}})
    assert result.project is not None and result.project.run is not None
    assert result.project.run.name == "xyz"
    assert result.project.run.user is not None
    assert result.project.run.user.username == "ada"


def test_history_rows_keep_nan_tokens_as_text() -> None:
    result = RunHistory.model_validate(
        {"project": {"run": {"history": [ROW_WITH_NAN, '{"_step": 4.0}']}}}
    )
    assert result.project is not None and result.project.run is not None
    rows = result.project.run.history
    assert rows == [ROW_WITH_NAN, '{"_step": 4.0}']
    decoded = json.loads(ROW_WITH_NAN)
    assert decoded["acc"] == float("inf")


def test_history_window() -> None:
    result = RunHistoryWindow.model_validate(
        {"project": {"run": {"history": ['{"_step": 0}']}}}
    )
    assert result.project is not None and result.project.run is not None
    assert result.project.run.history == ['{"_step": 0}']


def test_sampled_history_nested_lists() -> None:
    body = '{"project": {"run": {"sampledHistory": [[{"_step": 0, "loss": NaN}], []]}}}'
    result = RunSampledHistory.model_validate(json.loads(body))
    assert result.project is not None and result.project.run is not None
    specs = result.project.run.sampled_history
    assert specs is not None and len(specs) == 2
    assert specs[1] == []
    assert specs[0][0]["_step"] == 0


def test_events_and_keys() -> None:
    events = RunEvents.model_validate(
        {"project": {"run": {"events": ['{"_timestamp": 1.5, "system.cpu": 3}']}}}
    )
    assert events.project is not None and events.project.run is not None
    assert events.project.run.events == ['{"_timestamp": 1.5, "system.cpu": 3}']
    keys = RunHistoryKeys.model_validate(
        {"project": {"run": {"historyKeys": {"lastStep": 9, "keys": {}}}}}
    )
    assert keys.project is not None and keys.project.run is not None
    assert keys.project.run.history_keys == {"lastStep": 9, "keys": {}}


def test_sweep() -> None:
    sweep = SweepByName.model_validate(
        {
            "project": {
                "sweep": {
                    "id": "U3dlZXA6MQ==",
                    "name": "sw1",
                    "displayName": "lr sweep",
                    "method": "bayes",
                    "state": "FINISHED",
                    "description": None,
                    "config": "method: bayes\n",
                    "bestLoss": 0.05,
                    "runCount": 10,
                    "runCountExpected": 20,
                    "createdAt": "2024-05-01T12:00:00",
                    "updatedAt": None,
                }
            }
        }
    )
    assert sweep.project is not None and sweep.project.sweep is not None
    assert sweep.project.sweep.best_loss == 0.05
    assert sweep.project.sweep.created_at is not None
    assert sweep.project.sweep.created_at.tzinfo == timezone.utc


def test_bulk_pages() -> None:
    history = RunsHistoryPage.model_validate(
        {
            "project": {
                "runs": {
                    "edges": [{"node": {"name": "a", "history": [ROW_WITH_NAN]}}],
                    "pageInfo": page_info(True),
                }
            }
        }
    )
    assert history.project is not None and history.project.runs is not None
    assert history.project.runs.page_info.has_next_page is True
    sampled = RunsSampledHistoryPage.model_validate(
        {
            "project": {
                "runs": {
                    "edges": [{"node": {"name": "a", "sampledHistory": [[]]}}],
                    "pageInfo": page_info(),
                }
            }
        }
    )
    assert sampled.project is not None and sampled.project.runs is not None
    edges = sampled.project.runs.edges or []
    assert edges[0] is not None and edges[0].node is not None
    assert edges[0].node.sampled_history == [[]]
    events = RunsEventsPage.model_validate(
        {
            "project": {
                "runs": {
                    "edges": [{"node": {"name": "a", "events": []}}],
                    "pageInfo": page_info(),
                }
            }
        }
    )
    assert events.project is not None and events.project.runs is not None


def test_operations_are_exported() -> None:
    from runs_gql import operations

    assert "fragment RunFields on Run" in operations.RUNS_PAGE_GQL
    assert operations.RUNS_PAGE_GQL.lstrip().startswith("query RunsPage")
