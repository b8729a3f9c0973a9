# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Issue 17, the server: a server process under every hostile request of the
issue at once stays within its stated peak memory, closes slow and idle
sockets, keeps serving, and loses no rows.

The server runs as a subprocess (``python -m runs_server``) so that its peak
resident size (``VmHWM``) is its own; the figures go to ``make reliability``.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from runs_server.graphql.limits import PEAK_MEMORY_BYTES
from tests.reliability.conftest import TALLY
from tests.reliability.servers import OWNER_KEY, file_store

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path("/proc/self/status").exists(), reason="reads /proc/<pid>/status"
    ),
]

PROJECT = 'project(name: "big", entityName: "load")'
AUTH = ("api", OWNER_KEY)
MIB = 1024 * 1024


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    folder = tmp_path_factory.mktemp("hostile")
    file_store(folder).close()
    db = folder / "runs.db"
    # One worker: the bounds and the RSS measured here are one process's.
    command = [sys.executable, "-m", "runs_server", "--port", "0", "--db", str(db)]
    process = subprocess.Popen(
        [*command, "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on " in line, line
        url = line.split("listening on ")[1].split()[0]
        yield url, process.pid, db
    finally:
        process.terminate()
        process.wait(timeout=10)


def post(
    url: str, query: str, variables: object = None, timeout: float = 180
) -> httpx.Response:
    return httpx.post(
        url + "/graphql",
        json={"query": query, "variables": variables},
        auth=AUTH,
        timeout=timeout,
    )


def hostile_queries() -> list[tuple[str, object]]:
    spec = orjson.dumps(
        orjson.dumps({"keys": ["loss"], "samples": 1}).decode()
    ).decode()
    bad = orjson.dumps({"name": {"$regex": "(unclosed"}}).decode()
    many = orjson.dumps(
        {"$or": [{"name": {"$regex": f"r|p{i}"}} for i in range(396)]}
    ).decode()
    return [
        (
            f"{{ {PROJECT} {{ runs {{ edges {{ node {{ project {{ runs {{ edges {{ node {{ project {{ runs {{ edges {{ node {{ name }} }} }} }} }} }} }} }} }} }} }} }} }}",
            None,
        ),
        (
            f"{{ {PROJECT} {{ "
            + " ".join(f"a{i}:runs{{edges{{node{{id}}}}}}" for i in range(1240))
            + " } }",
            None,
        ),
        (
            f"query($f: JSONString) {{ {PROJECT} {{ runs(first: 1000, filters: $f) {{ edges {{ node {{ name }} }} }} }} }}",
            {"f": many},
        ),
        (
            "query($f: JSONString) { "
            + " ".join(f"a{i}:{PROJECT}{{runCount(filters:$f)}}" for i in range(1500))
            + " }",
            {"f": bad},
        ),
        *[
            (
                f"{{ {PROJECT} {{ runs(first: 1000) {{ edges {{ node {{ sampledHistory(specs: [{', '.join([spec] * 40)}]) }} }} }} }} }}",
                None,
            )
        ]
        * 4,
    ]


def test_hostile_requests_stay_within_the_stated_peak_memory(
    server: tuple[str, int, Path],
) -> None:
    url, pid, db = server
    host, port = url.removeprefix("http://").split(":")
    assert post(url, "{ viewer { username } }").status_code == 200
    idle_kib = status_kib(pid, "VmRSS")
    before = rows_of(db)
    statuses: list[int] = []
    lock = threading.Lock()

    def record(status: int) -> None:
        with lock:
            statuses.append(status)

    def query(text: str, variables: object) -> None:
        record(post(url, text, variables).status_code)

    pad = (
        b'{"query": "{ viewer { username } }", "variables": {"pad": "'
        + b"x" * (16 * MIB - 100)
        + b'"}}'
    )

    def big_body() -> None:
        try:
            answer = httpx.post(
                url + "/graphql",
                content=pad,
                headers={"content-type": "application/json"},
                timeout=180,
            )
            record(answer.status_code)
        except httpx.HTTPError:
            record(0)  # refused before it was sent whole

    # Slow and idle sockets first: they must not take the server's room.
    slow = [socket.create_connection((host, int(port)), timeout=30) for _ in range(20)]
    for sock in slow:
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    idle = [socket.create_connection((host, int(port)), timeout=30) for _ in range(600)]
    work = [threading.Thread(target=query, args=q) for q in hostile_queries()]
    work += [threading.Thread(target=big_body) for _ in range(24)]
    for thread in work:
        thread.start()
    for thread in work:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in work)
    # A client is served while idle and slow sockets are open.
    assert post(url, "{ viewer { username } }", timeout=30).json()["data"]["viewer"]
    closed = 0
    deadline = time.monotonic() + 30  # the head timeout (10 s) and a margin
    for sock in slow + idle:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            answer = sock.recv(1024)  # b"": closed; or a 503 and then closed
            closed += answer == b"" or answer.startswith(b"HTTP/1.1 503")
        except ConnectionResetError:
            closed += 1
        except TimeoutError:
            pass  # still open at the deadline: held
        sock.close()
    peak_kib = status_kib(pid, "VmHWM")
    # ...and gives the memory of the burst back (bodies are freed, then trimmed)
    settle = time.monotonic() + 30
    while status_kib(pid, "VmRSS") > idle_kib + 128 * 1024:
        assert time.monotonic() < settle, (status_kib(pid, "VmRSS"), idle_kib)
        time.sleep(0.2)
    TALLY["server_after_mib"] += status_kib(pid, "VmRSS") // 1024
    TALLY["hostile_requests"] += len(work) + len(slow) + len(idle)
    TALLY["connections_refused"] += closed + statuses.count(503) + statuses.count(0)
    TALLY["server_peak_mib"] += peak_kib // 1024
    TALLY["server_peak_bound_mib"] += (idle_kib * 1024 + PEAK_MEMORY_BYTES) // MIB
    lost = before - rows_of(db)
    TALLY["rows_lost"] += lost
    assert lost == 0
    assert set(statuses) <= {200, 503, 0}, statuses
    assert closed == len(slow) + len(idle), "a slow or idle socket was held"
    assert peak_kib * 1024 <= idle_kib * 1024 + PEAK_MEMORY_BYTES, (peak_kib, idle_kib)


def rows_of(db: Path) -> int:
    """History rows of load/big, read from the file directly."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM history").fetchone()[0])
