"""``runs-client schema-check`` judges compatibility, not equality.

A served schema that differs only in ways the client survives (stricter
non-null, an object type named differently that has every selected field,
more fields and arguments, scalars read alike) passes; one that lacks a field
or argument, serves a scalar the client cannot read, answers null where the
client requires a value, or takes an argument our value does not fit fails,
naming the operations that use it.
"""
# ruff: noqa: E501  (schema lines read best whole)

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from graphql import build_schema

from runs_cli.schema_check import check_schema, input_fits, load_schema
from tests.cli.conftest import run_in_process

WANDB_LIKE = Path(__file__).with_name("data") / "wandb_like_schema.graphql"


def shipped() -> str:
    return (files("runs_gql") / "graphql" / "schema.graphql").read_text("utf-8")


def altered(old: str, new: str, extra: str = "") -> list[str]:
    sdl = shipped()
    assert sdl.count(old) == 1, old
    return check_schema(build_schema(sdl.replace(old, new) + extra))


def test_the_shipped_schema_fits() -> None:
    assert check_schema(build_schema(shipped())) == []


def test_a_wandb_like_schema_file_passes() -> None:
    assert check_schema(load_schema(WANDB_LIKE)) == []


def test_the_command_takes_a_schema_file(tmp_path: Path) -> None:
    done = run_in_process("schema-check", "--schema", str(WANDB_LIKE))
    assert done.code == 0, done.out + done.err
    assert "all 26 operations and fragments the client sends fit the schema" in done.out
    broken = tmp_path / "broken.graphql"
    broken.write_text(shipped().replace("  host: String\n", ""))
    done = run_in_process("schema-check", "--schema", str(broken))
    assert done.code == 1
    assert done.out.startswith("Cannot query field 'host' on type 'Run'.")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  displayName: String\n  state: String\n", "  displayName: String!\n  state: String!\n"),
        ("  user: User\n  project: Project\n", "  user: Member\n  project: Project\n"),
        ("  historyLineCount: Int\n", "  historyLineCount: Int64\n"),
        ("  bestLoss: Float\n", "  bestLoss: Float!\n  bestRun: Run\n"),
        ("  projectId: Int\n", "  projectId: Int!\n  computeSeconds2: Int\n"),
        ("history(samples: Int, minStep", "history(samples: Int64, keys: [String!], minStep"),
        ("runCount(filters: JSONString)", "runCount(filters: String, extra: Boolean)"),
        ("  events(samples: Int): [String]", "  events(samples: Float): [String!]!"),
    ],
    ids=["stricter", "renamed-object", "int64", "extra-field", "non-null-int",
         "broader-argument", "string-for-jsonstring", "float-argument"],
)  # fmt: skip
def test_harmless_differences_pass(old: str, new: str) -> None:
    member = "type Member { id: ID! name: String! username: String }\n"
    assert altered(old, new, member if "Member" in new else "") == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "  host: String\n",
            "",
            "Cannot query field 'host' on type 'Run'. (used by RunsMirrorPage, "
            "RunByName, RunsPage, UpsertBucket, RunsPageSelected)",
        ),
        (
            "history(samples: Int, minStep: Int64, maxStep: Int64)",
            "history(samples: Int)",
            "Unknown argument 'minStep' on field 'Run.history'. (used by "
            "RunHistoryWindow, RunsMirrorPage, RunsHistoryWindowPage)",
        ),
        (
            "  historyLineCount: Int\n",
            "  historyLineCount: String\n",
            "Run.historyLineCount: the client expects Int, the server serves String "
            "(used by MirrorRunStates, RunsMirrorPage, RunByName, RunsPage, "
            "UpsertBucket, RunsPageSelected)",
        ),
        (
            "  sweepName: String\n",
            "  sweepName: [String]\n",
            "Run.sweepName: the client expects String, the server serves [String] "
            "(used by RunsMirrorPage, RunByName, RunsPage, UpsertBucket, "
            "RunsPageSelected)",
        ),
        (
            "  createdAt: DateTime!\n  heartbeatAt",
            "  createdAt: DateTime\n  heartbeatAt",
            "Run.createdAt: the client requires a value (DateTime!), the server may "
            "answer null (DateTime) (used by MirrorRunStates, RunsMirrorPage, "
            "RunByName, RunsPage, UpsertBucket, RunsPageSelected)",
        ),
        (
            "runCount(filters: JSONString)",
            "runCount(filters: JSONString!)",
            "Project.runCount(filters:): the client sends JSONString, the server "
            "takes JSONString! (used by RunCount, RunsPage, RunsPageSelected)",
        ),
        (
            "    first: Int\n    order: String",
            "    first: String\n    order: String",
            "Project.runs(first:): the client sends Int, the server takes String "
            "(used by RunsHistoryPage, RunsSampledHistoryPage, RunsEventsPage, "
            "MirrorRunStates, RunsMirrorPage, RunsHistoryWindowPage, RunsPage, "
            "RunsPageSelected)",
        ),
    ],
    ids=["missing-field", "missing-argument", "incompatible-scalar", "list-for-scalar",
         "nullable-where-required", "required-argument", "argument-type"],
)  # fmt: skip
def test_harmful_differences_fail_naming_the_operation(
    old: str, new: str, problem: str
) -> None:
    problems = altered(old, new)
    assert problem in problems, problems


def test_a_renamed_type_a_fragment_names_fails() -> None:
    # RunFields is a fragment "on Run": a server whose runs are of a type named
    # otherwise refuses it, so this rename is not harmless.
    sdl = re.sub(r"(:\s*\[?)Run\b", r"\1Bucket", shipped())
    problems = check_schema(build_schema(sdl.replace("type Run {", "type Bucket {")))
    assert (
        "Unknown type 'Run'. (used by RunsMirrorPage, RunByName, RunsPage, "
        "UpsertBucket, RunsPageSelected)" in problems
    ), problems


@pytest.mark.parametrize(
    ("ours", "theirs", "fits"),
    [
        ("Int", "Int64", True),
        ("Int64", "Int", False),
        ("String", "String!", False),
        ("String!", "String", True),
        ("[JSONString!]!", "[String!]!", True),
        ("[JSONString!]!", "JSONString!", False),
        ("JSONString", "JSON", True),
        ("Int", "Boolean", False),
    ],
)
def test_argument_fit(ours: str, theirs: str, fits: bool) -> None:
    assert input_fits(ours, theirs) is fits


@pytest.mark.e2e
def test_a_served_schema_without_run_host(tmp_path: Path) -> None:
    """``serve --schema`` without Run.host: schema-check names the operations
    that select it, and the client still lists runs (host left out, null)."""
    from tests.cli.test_server_commands import serving

    lacking = tmp_path / "no-host.graphql"
    lacking.write_text(shipped().replace("  host: String\n", ""))
    with serving("--demo", "--schema", str(lacking)) as (url, _lines):
        check = run_in_process("schema-check", url=url)
        listed = run_in_process(
            "runs", "demo/mnist", "--limit", "3", "--format", "json", url=url
        )
    assert check.code == 1
    assert "Cannot query field 'host' on type 'Run'. (used by " in check.out
    assert listed.code == 0, listed.err
    assert len(json.loads(listed.out)) == 3
