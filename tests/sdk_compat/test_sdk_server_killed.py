"""``kill -9`` of the server while SDK 0.31 logs, then a restart on the same
store file: the SDK's retries complete the run, and its history holds every
logged step exactly once (no row lost or doubled)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.sdk_compat.test_sdk_writes import SDKS, sdk_env

SCRIPT = Path(__file__).with_name("sdk_kill_workflow.py")
STEPS = 1500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "runs_server", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                return server
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    server.wait(timeout=10)
    raise AssertionError(f"runs_server did not start on port {port}")


def _read(db: Path, sql: str) -> object:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.OperationalError:  # the layout is not written yet
        row = None
    finally:
        conn.close()
    return None if row is None else row[0]


def _history_rows(db: Path) -> int:
    return int(_read(db, "SELECT count(*) FROM history") or 0)


def test_the_run_completes_across_a_server_kill(tmp_path: Path) -> None:
    python = SDKS["0.31"]
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make sdk31-venv` (make test does)")
    db, port = tmp_path / "runs.db", _free_port()
    server = _start_server(db, port)
    sdk = subprocess.Popen(
        [str(python), str(SCRIPT), str(STEPS)],
        env=sdk_env(tmp_path / "home", f"http://127.0.0.1:{port}", "0.31"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _history_rows(db) < 100:  # mid-stream: some rows in, more coming
            assert sdk.poll() is None, sdk.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no history arrived in 120 s"
            time.sleep(0.02)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        killed_at = _history_rows(db)
        state_at_kill = _read(db, "SELECT state FROM runs WHERE name='survivor'")
        time.sleep(1.5)  # the SDK logs and retries meanwhile
        server = _start_server(db, port)
        out, err = sdk.communicate(timeout=240)
        assert sdk.returncode == 0 and out.strip().endswith("done"), err[-3000:]
    finally:
        for process in (sdk, server):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    # The kill fell mid-stream: rows before it, the rest and the end after.
    assert killed_at < STEPS and state_at_kill == "running"
    conn = sqlite3.connect(db)
    state = conn.execute("SELECT state FROM runs WHERE name='survivor'").fetchone()
    rows = [
        json.loads(r[0]) for r in conn.execute("SELECT row FROM history ORDER BY step")
    ]
    conn.close()
    assert state == ("finished",)  # the closing post's exit code: 0
    assert [(r["_step"], r["loss"], r["step_sq"]) for r in rows] == [
        (s, 1.0 / (s + 1), s * s) for s in range(STEPS)
    ]
