"""Installed as users install it: typed outside the repository, and a wheel
that works outside the source tree."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]

USER_SCRIPT = """\
from runs_client import Api, runs_frame

with Api() as api:
    runs = api.runs("team/project")
    reveal_type(runs[0].created_at)
    reveal_type(runs_frame(runs))
    wrong: int = runs[0].created_at
"""


def test_mypy_resolves_runs_client_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(USER_SCRIPT)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", "cache", "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=240,
    )
    assert 'Revealed type is "datetime.datetime"' in done.stdout, done.stdout
    assert 'Revealed type is "pandas.core.frame.DataFrame"' in done.stdout
    # Precise, not Any: the wrong assignment is caught, and nothing else is.
    assert "script.py:7: error: Incompatible types in assignment" in done.stdout
    assert "Found 1 error" in done.stdout, done.stdout


def _copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, target / name)
    for folder in (
        "runs_client",
        "runs_server",
        "runs_cli",
        "runs_mirror",
        "generated/runs_gql",
    ):
        shutil.copytree(ROOT / folder, target / folder, ignore=ignore)


@pytest.mark.e2e
def test_wheel_works_outside_the_source_tree(tmp_path: Path) -> None:
    source, dist, env = tmp_path / "src", tmp_path / "dist", tmp_path / "venv"
    source.mkdir()
    _copy_sources(source)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--no-build-isolation", "-w", str(dist), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = dist.glob("runs_client-*.whl")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env)], check=True
    )
    # The new venv sees the project venv's packages (no second download) after
    # its own, where the wheel goes.
    purelib = subprocess.run(
        [env / "bin" / "python", "-c",
         "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "project_venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = str(env / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run(
        [python, "-c", "import runs_client, runs_gql; print(runs_client.__file__)"],
        cwd=outside, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert where.startswith(purelib), where
    command = str(env / "bin" / "runs-client")
    server = subprocess.Popen(
        [command, "serve", "--demo", "--port", "0"],
        cwd=outside, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=clean_env(),
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert "listening on" in first, first + server.stdout.read()
        url = first.split("listening on ")[1].split()[0]
        env_vars = clean_env(WANDB_BASE_URL=url)
        runs = subprocess.run(
            [command, "runs", "demo/mnist", "--limit", "3", "--format", "csv"],
            cwd=outside, capture_output=True, text=True, env=env_vars, timeout=60,
        )  # fmt: skip
        assert runs.returncode == 0, runs.stderr
        assert len(list(csv.DictReader(io.StringIO(runs.stdout)))) == 3
        check = subprocess.run(
            [command, "schema-check"],
            cwd=outside, capture_output=True, text=True, env=env_vars, timeout=60,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr  # operations ship
        # The web pages and the vendored chart library and GraphiQL ship in
        # the wheel.
        for path in (
            "/demo/mnist",
            "/static/runs-web/vendor/uPlot.iife.min.js",
            "/static/runs-web/vendor/graphiql/graphiql.min.js",
            "/static/runs-web/vendor/graphiql/graphiql.LICENSE",
        ):
            page = httpx.get(url + path, timeout=30)
            assert page.status_code == 200 and len(page.content) > 1000, path
    finally:
        server.terminate()
        server.wait(timeout=10)
