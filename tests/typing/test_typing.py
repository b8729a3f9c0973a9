"""Run attributes are typed: mypy --strict accepts good use, flags bad use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def mypy_errors(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[int, list[str]]]:
    """The scripts checked by one mypy run (most of its time goes to reading
    runs_client and its dependencies, the same for all): per script, the
    run's exit status and that script's error lines. The async script is
    checked from a folder outside the repository, as a user's would be."""
    # The repo's config (strict, pydantic plugin, mypy_path); no cache so a
    # stale one cannot hide a change in runs_client.
    outside = tmp_path_factory.mktemp("user")
    (outside / "usage_async.py").write_text((HERE / "usage_async.py").read_text())
    scripts = ("usage_ok.py", "usage_bad.py", "usage_async.py")
    paths = [HERE / "usage_ok.py", HERE / "usage_bad.py", outside / "usage_async.py"]
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
            *(str(path) for path in paths),
        ]
    )
    assert not stderr, stderr
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    by_script: dict[str, list[str]] = {script: [] for script in scripts}
    for line in errors:
        # mypy names the file as given, or relative to the working directory.
        name = Path(line.split(":", 1)[0]).name
        assert name in by_script, f"an error outside the scripts: {line}"
        by_script[name].append(line)
    return {script: (status, lines) for script, lines in by_script.items()}


@pytest.mark.timeout(600)
def test_good_script_passes_strict(
    mypy_errors: dict[str, tuple[int, list[str]]],
) -> None:
    _, errors = mypy_errors["usage_ok.py"]
    assert errors == []


@pytest.mark.timeout(600)
def test_async_script_passes_strict_outside_the_repository(
    mypy_errors: dict[str, tuple[int, list[str]]],
) -> None:
    # assert_type(await runs.histories(format="pandas"), pd.DataFrame) and
    # the other async answers: any other type is an error here.
    _, errors = mypy_errors["usage_async.py"]
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
