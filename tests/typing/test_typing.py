"""Run attributes are typed: mypy --strict accepts good use, flags bad use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def mypy_errors() -> dict[str, tuple[int, list[str]]]:
    """Both scripts checked by one mypy run (most of its time goes to reading
    runs_client and its dependencies, the same for both): per script, the
    run's exit status and that script's error lines."""
    # The repo's config (strict, pydantic plugin, mypy_path); no cache so a
    # stale one cannot hide a change in runs_client.
    scripts = ("usage_ok.py", "usage_bad.py")
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
            *(str(HERE / script) for script in scripts),
        ]
    )
    assert not stderr, stderr
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    by_script: dict[str, list[str]] = {script: [] for script in scripts}
    for line in errors:
        # mypy names the file as given, or relative to the working directory.
        name = Path(line.split(":", 1)[0]).name
        assert name in by_script, f"an error outside the two scripts: {line}"
        by_script[name].append(line)
    return {script: (status, lines) for script, lines in by_script.items()}


@pytest.mark.timeout(600)
def test_good_script_passes_strict(
    mypy_errors: dict[str, tuple[int, list[str]]],
) -> None:
    _, errors = mypy_errors["usage_ok.py"]
    assert errors == []


@pytest.mark.timeout(600)
def test_bad_script_gets_exactly_two_errors(
    mypy_errors: dict[str, tuple[int, list[str]]],
) -> None:
    status, errors = mypy_errors["usage_bad.py"]
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
