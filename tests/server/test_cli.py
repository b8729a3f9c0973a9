"""``python -m runs_server`` and ``runs-client serve`` as users start them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from runs_server.command import build_parser
from runs_server.store import Store
from runs_server.store.ddl import SCHEMA_VERSION

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, list[str]]]:
    """Start the server as a subprocess on a free port; yield its URL and output."""
    process = subprocess.Popen(
        [sys.executable, "-m", "runs_server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("auth ") for line in lines):  # banner's end
            line = process.stdout.readline()
            if not line:
                raise AssertionError("server exited: " + "".join(lines))
            lines.append(line)
        url = lines[0].split("listening on ")[1].split()[0]
        yield url, lines
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_python_m_runs_server_demo_with_auth() -> None:
    with serving("--demo", "--require-auth") as (url, lines):
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        key_line = next(line for line in lines if "API key" in line)
        key = key_line.split("API key: ")[1].strip()
        query = {"query": '{ project(name: "mnist", entityName: "demo") { runCount } }'}
        assert httpx.post(url + "/graphql", json=query).status_code == 401
        ok = httpx.post(url + "/graphql", json=query, auth=("api", key))
        assert ok.json() == {"data": {"project": {"runCount": 320}}}


def test_newer_db_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    conn.commit()
    conn.close()
    done = subprocess.run(
        [sys.executable, "-m", "runs_server", "--db", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert done.returncode == 2
    assert "newer than this server's" in done.stderr


def test_runs_client_serve_arguments() -> None:
    # ``runs-client serve`` hands its arguments to this same parser.
    args = build_parser().parse_args(
        [
            "--db",
            "x.db",
            "--port",
            "0",
            "--demo",
            "--latency-ms",
            "5",
            "--require-auth",
            "--fault-429",
            "0.1",
        ]
    )
    assert (args.db, args.port, args.demo) == ("x.db", 0, True)
    assert (args.latency_ms, args.require_auth, args.fault_429) == (5.0, True, 0.1)
    assert (args.host, build_parser().parse_args([]).port) == ("127.0.0.1", 8080)
