"""``benchmarks/floor_server.py``, the latency floor of ``concurrency_speed``:
it must answer every request on a kept-alive connection with the page it was
given, spend the CPU it was told per request, and spread connections over
its workers (otherwise its "floor" would be a different measure)."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CPU_MS = 20.0
WAIT_S = 30.0


@pytest.fixture
def floor(tmp_path: Path) -> Iterator[tuple[int, bytes, subprocess.Popen[str]]]:
    page = b'{"data":{"project":{"runs":{"edges":[],"pageInfo":{}}}},"pad":"%s"}' % (
        b"x" * 70_000
    )
    (tmp_path / "page.json").write_bytes(page)
    command = [sys.executable, str(ROOT / "benchmarks" / "floor_server.py")]
    command += ["--page", str(tmp_path / "page.json"), "--cpu-ms", str(CPU_MS)]
    # A long balance wait: on a loaded test machine the other worker may take
    # more than the benchmark's 20 ms to wake.
    command += ["--workers", "2", "--balance-wait-ms", "3000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        found = re.search(r"listening on port (\d+)", process.stdout.readline())
        assert found, "no port printed"
        yield int(found.group(1)), page, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=WAIT_S)


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def sockets(pid: int) -> int:
    """The sockets ``pid`` holds open (the shared listener and its clients)."""
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if fd.readlink().name.startswith("socket:"))


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_answers_the_page_after_its_cpu_on_balanced_keep_alive_connections(
    floor: tuple[int, bytes, subprocess.Popen[str]],
) -> None:
    port, page, process = floor
    workers = children(process.pid)
    assert len(workers) == 2
    before = {pid: cpu_s(pid) for pid in workers}
    conns = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S) for _ in range(8)
    ]
    for conn in conns:  # together, as the benchmark's clients arrive
        conn.connect()
    asked = 0
    for round_ in range(3):
        for conn in conns:
            body = b'{"query": "%s"}' % (b"q" * (10 + 3000 * round_))
            conn.request("POST", "/graphql", body, {"content-type": "application/json"})
            reply = conn.getresponse()
            assert reply.status == 200
            assert reply.read() == page
            asked += 1
    held = [sockets(pid) - 1 for pid in workers]
    for conn in conns:
        conn.close()
    assert held == [4, 4]
    spent = {pid: cpu_s(pid) - before[pid] for pid in workers}
    # 24 requests of 20 ms: 0.48 s in all, half each (clock ticks are 10 ms;
    # the workers spend nothing else worth a tick).
    assert sum(spent.values()) >= 0.8 * asked * CPU_MS / 1000
    assert all(0.18 <= s <= 0.33 for s in spent.values()), spent
