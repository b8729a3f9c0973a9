"""`make check-generated` really catches a stale generated package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREE = ("schema", "queries", "codegen", "generated")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in TREE:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "codegen" / "generate.py"), "--check"],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_fresh_copy_passes(tree: Path) -> None:
    result = check(tree)
    assert result.returncode == 0, result.stdout + result.stderr


def test_edited_query_fails(tree: Path) -> None:
    sweep = tree / "queries" / "sweep.graphql"
    sweep.write_text(sweep.read_text().replace("      bestLoss\n", ""))
    result = check(tree)
    assert result.returncode == 1
    assert "sweep_by_name.py" in result.stdout


def test_hand_edit_in_generated_module_fails(tree: Path) -> None:
    module = tree / "generated" / "runs_gql" / "fragments.py"
    module.write_text(module.read_text().replace("id: str", "id: int", 1))
    result = check(tree)
    assert result.returncode == 1
    assert "fragments.py" in result.stdout


def test_edited_query_fails_in_the_async_client_too(tree: Path) -> None:
    # Both codegen runs read queries/: a stale async client is caught as well.
    runs = tree / "queries" / "runs.graphql"
    text = runs.read_text()
    assert "query RunCount(" in text
    runs.write_text(text.replace("query RunCount(", "query RunTally(", 1))
    result = check(tree)
    assert result.returncode == 1
    assert "async_client.py" in result.stdout


def test_hand_edit_in_async_client_fails(tree: Path) -> None:
    module = tree / "generated" / "runs_gql" / "async_client.py"
    module.write_text(module.read_text().replace("async def", "def", 1))
    result = check(tree)
    assert result.returncode == 1
    assert "async_client.py" in result.stdout


def test_async_client_shares_the_sync_models() -> None:
    import inspect
    import typing

    import runs_gql
    from runs_gql.async_client import AsyncClient

    # One set of models: both clients return the same classes.
    hints = typing.get_type_hints(AsyncClient.runs_page)
    assert hints["return"] is runs_gql.RunsPage
    assert inspect.iscoroutinefunction(AsyncClient.runs_page)


def test_leftover_module_fails(tree: Path) -> None:
    (tree / "generated" / "runs_gql" / "old_operation.py").write_text("X = 1\n")
    result = check(tree)
    assert result.returncode == 1
    assert "old_operation.py" in result.stdout


def test_generate_removes_leftover_module(tree: Path) -> None:
    leftover = tree / "generated" / "runs_gql" / "old_operation.py"
    leftover.write_text("X = 1\n")
    subprocess.run(
        [sys.executable, str(ROOT / "codegen" / "generate.py")], cwd=tree, check=True
    )
    assert not leftover.exists()
    assert check(tree).returncode == 0
