"""The official SDK's runs workflow (wandb 0.18) validates against our schema.

The documents below are the operations wandb.apis.public sends for the
runs workflow: viewer, listing runs, one run, history, scan, events, sweeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_schema(
    "\n".join(p.read_text() for p in sorted((ROOT / "schema").glob("*.graphql")))
)

RUN_FRAGMENT = """
fragment RunFragment on Run {
    id
    tags
    name
    displayName
    sweepName
    state
    config
    group
    jobType
    commit
    readOnly
    createdAt
    heartbeatAt
    description
    notes
    systemMetrics
    summaryMetrics
    historyLineCount
    user {
        name
        username
    }
    historyKeys
}
"""

SDK_OPERATIONS = {
    "viewer": """
    query Viewer{
        viewer {
            id
            flags
            entity
            username
            email
            admin
            apiKeys { edges { node { id name description } } }
            teams { edges { node { name } } }
        }
    }
    """,
    "runs": """
    query Runs($project: String!, $entity: String!, $cursor: String,
               $perPage: Int = 50, $order: String, $filters: JSONString) {
        project(name: $project, entityName: $entity) {
            runCount(filters: $filters)
            readOnly
            runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
                edges { node { ...RunFragment } cursor }
                pageInfo { endCursor hasNextPage }
            }
        }
    }
    """
    + RUN_FRAGMENT,
    "run": """
    query Run($project: String!, $entity: String!, $name: String!) {
        project(name: $project, entityName: $entity) {
            run(name: $name) { ...RunFragment }
        }
    }
    """
    + RUN_FRAGMENT,
    "sampled_history": """
    query RunSampledHistory($project: String!, $entity: String!, $name: String!,
                            $specs: [JSONString!]!) {
        project(name: $project, entityName: $entity) {
            run(name: $name) { sampledHistory(specs: $specs) }
        }
    }
    """,
    "full_history": """
    query RunFullHistory($project: String!, $entity: String!, $name: String!,
                         $samples: Int) {
        project(name: $project, entityName: $entity) {
            run(name: $name) { history(samples: $samples) }
        }
    }
    """,
    "events": """
    query RunEvents($project: String!, $entity: String!, $name: String!,
                    $samples: Int) {
        project(name: $project, entityName: $entity) {
            run(name: $name) { events(samples: $samples) }
        }
    }
    """,
    "history_keys": """
    query RunHistoryKeys($project: String!, $entity: String!, $name: String!) {
        project(name: $project, entityName: $entity) {
            run(name: $name) { historyKeys }
        }
    }
    """,
    "history_scan": """
    query HistoryPage($entity: String!, $project: String!, $run: String!,
                      $minStep: Int64!, $maxStep: Int64!, $pageSize: Int!) {
        project(name: $project, entityName: $entity) {
            run(name: $run) {
                history(minStep: $minStep, maxStep: $maxStep, samples: $pageSize)
            }
        }
    }
    """,
    "sweep": """
    query Sweep($project: String, $entity: String, $name: String!) {
        project(name: $project, entityName: $entity) {
            sweep(sweepName: $name) {
                id
                name
                state
                runCountExpected
                bestLoss
                config
            }
        }
    }
    """,
}


@pytest.mark.parametrize("name", sorted(SDK_OPERATIONS))
def test_sdk_operation_validates(name: str) -> None:
    errors = validate(SCHEMA, parse(SDK_OPERATIONS[name]))
    assert errors == [], [e.message for e in errors]


def test_scalar_names_are_exactly_wandbs() -> None:
    scalars = {
        name
        for name, t in SCHEMA.type_map.items()
        if type(t).__name__ == "GraphQLScalarType" and not name.startswith("__")
    }
    assert {"JSONString", "JSON", "DateTime", "Int64"} <= scalars


def test_nullable_arguments_match_wandb() -> None:
    project = SCHEMA.query_type.fields["project"]  # type: ignore[union-attr]
    assert str(project.args["name"].type) == "String"
    assert str(project.args["entityName"].type) == "String"
    run = SCHEMA.type_map["Run"]
    history = run.fields["history"]  # type: ignore[attr-defined]
    assert {k: str(v.type) for k, v in history.args.items()} == {
        "samples": "Int",
        "minStep": "Int64",
        "maxStep": "Int64",
    }
    sampled = run.fields["sampledHistory"]  # type: ignore[attr-defined]
    assert str(sampled.args["specs"].type) == "[JSONString!]!"
    assert str(sampled.type) == "[JSON]"
