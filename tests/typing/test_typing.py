"""Run attributes are typed: mypy --strict accepts good use, flags bad use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def run_mypy(script: str) -> tuple[int, list[str]]:
    # The repo's config (strict, pydantic plugin, mypy_path); no cache so a
    # stale one cannot hide a change in runs_client.
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            "--no-error-summary",
            "--hide-error-context",
            "--no-pretty",
            str(HERE / script),
        ]
    )
    assert not stderr, stderr
    return status, [line for line in stdout.splitlines() if ": error:" in line]


@pytest.mark.timeout(600)
def test_good_script_passes_strict() -> None:
    status, errors = run_mypy("usage_ok.py")
    assert errors == []
    assert status == 0


@pytest.mark.timeout(600)
def test_bad_script_gets_exactly_two_errors() -> None:
    status, errors = run_mypy("usage_bad.py")
    assert status == 1
    assert len(errors) == 2, errors
    assignment, attribute = errors
    assert re.search(
        r"usage_bad\.py:10: error: Incompatible types in assignment "
        r'\(expression has type "datetime", variable has type "int"\)',
        assignment,
    ), assignment
    assert re.search(
        r'usage_bad\.py:11: error: "Run" has no attribute "no_such_field"', attribute
    ), attribute
