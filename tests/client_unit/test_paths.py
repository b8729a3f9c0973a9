"""Project, run and sweep path parsing: accepted forms and clear refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runs_client._exceptions import InvalidArgumentError
from runs_client._paths import (
    ProjectPath,
    RunPath,
    parse_project_path,
    parse_run_path,
    parse_sweep_path,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("ent/proj", ProjectPath("ent", "proj")),
        ("proj", ProjectPath(None, "proj")),
        ("  ent/my-proj_2.0  ", ProjectPath("ent", "my-proj_2.0")),
    ],
)
def test_project_paths(path: str, expected: ProjectPath) -> None:
    assert parse_project_path(path) == expected


@pytest.mark.parametrize(
    "path", ["", "/", "ent/", "/proj", "a/b/c", "ent/pr oj", "ent/proj:x", "a//b"]
)
def test_bad_project_paths(path: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_project_path(path)
    message = str(info.value)
    assert repr(path) in message
    assert "'entity/project'" in message and "'project'" in message


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("ent/proj/abc123", RunPath("ent", "proj", "abc123")),
        ("ent/proj/runs/abc123", RunPath("ent", "proj", "abc123")),
        ("ent/proj:abc123", RunPath("ent", "proj", "abc123")),
        ("proj/abc123", RunPath(None, "proj", "abc123")),
        # A run whose id is literally "runs" still parses in the short form.
        ("ent/proj/runs", RunPath("ent", "proj", "runs")),
    ],
)
def test_run_paths(path: str, expected: RunPath) -> None:
    assert parse_run_path(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        "abc123",
        "proj:abc123",
        "ent/proj/",
        "ent/proj/sweeps/abc",
        "ent/proj/runs/abc/extra",
        "ent/proj:a:b",
        "ent/proj/runs:abc",
        "ent/ proj/abc",
        "e/p/r\n",
    ],
)
def test_bad_run_paths(path: str) -> None:
    if path == "e/p/r\n":  # surrounding whitespace is forgiven
        assert parse_run_path(path) == RunPath("e", "p", "r")
        return
    with pytest.raises(InvalidArgumentError) as info:
        parse_run_path(path)
    message = str(info.value)
    for form in (
        "entity/project/run_id",
        "entity/project/runs/run_id",
        "entity/project:run_id",
        "project/run_id",
    ):
        assert f"'{form}'" in message


@pytest.mark.parametrize("path", [None, 3, ["ent", "proj"], b"ent/proj"])
def test_non_string_paths(path: object) -> None:
    with pytest.raises(InvalidArgumentError, match="must be a string"):
        parse_run_path(path)
    with pytest.raises(InvalidArgumentError, match="must be a string"):
        parse_project_path(path)


def test_sweep_paths() -> None:
    assert parse_sweep_path("e/p/sweeps/s1") == RunPath("e", "p", "s1")
    assert parse_sweep_path("e/p/s1") == RunPath("e", "p", "s1")
    assert parse_sweep_path("p/s1") == RunPath(None, "p", "s1")
    with pytest.raises(InvalidArgumentError, match="'entity/project/sweeps/sweep_id'"):
        parse_sweep_path("e/p/runs/s1")


segment = st.text(
    alphabet=st.characters(
        codec="ascii", exclude_characters="/:", exclude_categories=("Cc", "Zs")
    ),
    min_size=1,
    max_size=12,
)


@given(segment, segment, segment)
def test_run_forms_agree(entity: str, project: str, run_id: str) -> None:
    expected = RunPath(entity, project, run_id)
    assert parse_run_path(f"{entity}/{project}/{run_id}") == expected
    assert parse_run_path(f"{entity}/{project}/runs/{run_id}") == expected
    assert parse_run_path(f"{entity}/{project}:{run_id}") == expected
    assert parse_run_path(f"{project}/{run_id}") == RunPath(None, project, run_id)
