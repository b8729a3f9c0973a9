"""``serve --workers N``: several processes serve one port and one store file.

The servers are ``python -m runs_server`` processes (their processes, signals
and crashes are the point); every wait has a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import selectors
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from runs_server.command import build_parser, load_file
from runs_server.http.workers import Supervisor

pytestmark = pytest.mark.e2e

DEADLINE_S = 60
KEY = "k" * 40  # an open loopback server takes any key as its demo user
UPSERT = """
mutation Up($name: String, $project: String) {
  upsertBucket(input: {name: $name, modelName: $project}) { bucket { id } inserted }
}
"""
LIST = """
query L($project: String!) {
  project(entityName: "demo", name: $project) {
    runs(first: 50) { edges { node { name historyLineCount summaryMetrics } } }
  }
}
"""


class Server:
    """A ``python -m runs_server`` process and what it printed so far."""

    def __init__(self, db: Path, *flags: str) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runs_server",
                "--db",
                str(db),
                "--port",
                "0",
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
        )
        self.text = ""
        self.url = self.wait_for(r"listening on (\S+)").group(1)

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first match of ``pattern`` (a whole line) in the output."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + DEADLINE_S
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                found = re.search(pattern + r"[^\n]*\n", self.text)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"no {pattern!r} in {DEADLINE_S} s: {self.text}"
                if selector.select(left):
                    chunk = os.read(self.process.stdout.fileno(), 4096)
                    assert chunk, f"the server exited: {self.text}"
                    self.text += chunk.decode()

    def worker_pids(self) -> list[int]:
        found = self.wait_for(r"worker processes \(pids ([0-9, ]+)\)")
        return [int(pid) for pid in found.group(1).split(", ")]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        if self.process.stdout is not None:
            self.process.stdout.close()


Start = Callable[..., Server]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Start]:
    """Start a server on ``tmp_path/runs.db`` with these flags; stopped after."""
    started: list[Server] = []

    def start(*flags: str) -> Server:
        server = Server(tmp_path / "runs.db", *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _alive(pid: int) -> bool:
    """Running (a zombie left for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("0", "0 is too few; give 1 or more"),
        ("-3", "-3 is too few; give 1 or more"),
        ("1.5", "'1.5' is not a whole number"),
        ("two", "'two' is not a whole number"),
        ("65", "65 is too many; give at most 64"),
    ],
)
def test_bad_worker_counts_are_refused_with_the_fix(
    value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--workers", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --workers: {said}" in err
    assert "Traceback" not in err


def test_worker_count_defaults_to_unset_and_takes_whole_numbers() -> None:
    parser = build_parser()
    assert parser.parse_args([]).workers is None  # serve: one per core
    assert parser.parse_args(["--workers", "3"]).workers == 3
    assert isinstance(parser, argparse.ArgumentParser)


def test_one_worker_serves_in_one_process(server_factory: Start) -> None:
    server = server_factory("--workers", "1")
    assert httpx.get(server.url + "/healthz", timeout=10).json() == {"ok": True}
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert children == []
    assert "worker processes" not in server.text


def test_workers_take_concurrent_writes_and_reads_without_loss(
    server_factory: Start, tmp_path: Path
) -> None:
    server = server_factory("--workers", "2")
    workers = server.worker_pids()
    ticks = [_cpu_ticks(pid) for pid in workers]
    runs, posts, lines = 6, 12, 5
    failures: list[str] = []

    def fresh_client() -> httpx.Client:
        # No keep-alive: every request is a new connection, taken by whichever
        # worker accepts it first, so the writes of one run cross processes.
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(timeout=60, limits=limits, auth=("api", KEY))

    def gql(client: httpx.Client, query: str, **variables: object) -> object:
        reply = client.post(
            server.url + "/graphql", json={"query": query, "variables": variables}
        )
        body = reply.json()
        if reply.status_code != 200 or "errors" in body:
            failures.append(f"{reply.status_code} {reply.text[:300]}")
        return body

    def create_shared() -> None:  # every thread creates the same run at once
        with fresh_client() as client:
            gql(client, UPSERT, name="shared", project="p")

    def write(run: int) -> None:
        with fresh_client() as client:
            gql(client, UPSERT, name=f"r{run}", project="p")
            for post in range(posts):
                offset = post * lines
                chunk = [
                    orjson.dumps({"_step": offset + i, "loss": run + i / 10}).decode()
                    for i in range(lines)
                ]
                body = {
                    "files": {
                        "wandb-history.jsonl": {"offset": offset, "content": chunk},
                        "wandb-summary.json": {"offset": 0, "content": [chunk[-1]]},
                    }
                }
                for _attempt in range(2 if post % 3 == 0 else 1):  # SDK retries
                    reply = client.post(
                        f"{server.url}/files/demo/p/r{run}/file_stream", json=body
                    )
                    if reply.status_code != 200:
                        failures.append(f"{reply.status_code} {reply.text[:300]}")

    def read() -> None:
        with fresh_client() as client:
            for _ in range(posts):
                gql(client, LIST, project="p")

    loaded: list[int] = []
    source = tmp_path / "load.jsonl"
    jsonl: list[dict[str, object]] = [
        {"type": "project", "entity": "me", "name": "mine"}
    ]
    jsonl += [
        {"type": "run", "project": "me/mine", "name": f"l{i}",
         "history": [{"_step": s, "loss": 1.0 / (s + 1)} for s in range(200)]}
        for i in range(20)
    ]  # fmt: skip
    source.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in jsonl))

    def load() -> None:  # a runs-client load into the file being served
        loaded.append(load_file(str(tmp_path / "runs.db"), str(source)))

    threads = [threading.Thread(target=create_shared) for _ in range(6)]
    threads.append(threading.Thread(target=load))
    threads += [threading.Thread(target=write, args=(r,)) for r in range(runs)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE_S)
    assert not any(t.is_alive() for t in threads), "writers still running"
    assert failures == []
    assert "locked" not in server.text
    # Both processes did work (each served some of the fresh connections).
    assert all(
        _cpu_ticks(pid) > before for pid, before in zip(workers, ticks, strict=True)
    )

    conn = sqlite3.connect(tmp_path / "runs.db")
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM runs ORDER BY name")]
        loaded_rows = conn.execute(
            "SELECT count(DISTINCT run_id), count(*) FROM history "
            "WHERE run_id IN (SELECT id FROM runs WHERE name LIKE 'l%')"
        ).fetchone()
        steps = {
            name: [
                s
                for (s,) in conn.execute(
                    "SELECT step FROM history JOIN runs ON runs.id = run_id "
                    "WHERE name = ? ORDER BY step",
                    (name,),
                )
            ]
            for name in names
        }
    finally:
        conn.close()
    assert loaded == [0]  # the load went in whole, beside the streams
    assert loaded_rows == (20, 20 * 200)
    written = ["r0", "r1", "r2", "r3", "r4", "r5", "shared"]
    assert names == sorted([f"l{i}" for i in range(20)] + written)
    for run in range(runs):
        assert steps[f"r{run}"] == list(range(posts * lines))  # none lost or doubled
    assert steps["shared"] == []


def test_stopping_the_parent_stops_every_worker(server_factory: Start) -> None:
    server = server_factory("--workers", "2")
    pids = server.worker_pids()
    assert all(_alive(pid) for pid in pids)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=20) == 0
    assert _gone_within(pids, 5)


def test_killing_the_parent_kills_every_worker(server_factory: Start) -> None:
    server = server_factory("--workers", "2")
    pids = server.worker_pids()
    server.process.kill()  # no chance to stop them: the kernel must
    server.process.wait(timeout=20)
    assert _gone_within(pids, 5)


def test_a_crashed_worker_is_replaced_and_reported(
    server_factory: Start,
) -> None:
    server = server_factory("--workers", "2")
    first, second = server.worker_pids()
    os.kill(first, signal.SIGKILL)
    said = server.wait_for(
        rf"worker 1 \(pid {first}\) was killed by SIGKILL; started pid (\d+)"
    )
    replacement = int(said.group(1))
    assert _alive(replacement) and _alive(second)
    with httpx.Client(timeout=30) as client:
        for _ in range(4):  # whichever worker answers, the server answers
            assert client.get(server.url + "/healthz").json() == {"ok": True}


def _exit_at_once(index: int) -> None:
    sys.exit(3)


def test_workers_that_keep_crashing_stop_the_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor = Supervisor(2, _exit_at_once, restarts_allowed=3)
    started = time.monotonic()
    assert supervisor.run() == 1
    assert time.monotonic() - started < DEADLINE_S
    err = capsys.readouterr().err
    assert err.count("exited with code 3; started pid") == 3
    assert "workers ended 4 times within 60 s, so the server stops" in err
    assert not any(_alive(pid) for pid in supervisor.pids())


def test_an_in_memory_store_is_served_in_one_process(
    server_factory: Start,
) -> None:
    server = server_factory("--workers", "2", "--db", ":memory:")
    server.wait_for("an in-memory store cannot be shared: serving in one process")
    pid = server.process.pid
    assert Path(f"/proc/{pid}/task/{pid}/children").read_text().split() == []
    assert httpx.get(server.url + "/healthz", timeout=10).json() == {"ok": True}


EXPORT = """query($run: String!) { project(name: "mnist", entityName: "demo") {
  run(name: $run) { parquetHistory(liveKeys: ["_step"]) { parquetUrls } } } }"""
FIRST_RUN = """{ project(name: "mnist", entityName: "demo") {
  runs(first: 1) { edges { node { name } } } } }"""


def test_an_export_link_one_worker_signed_is_served_by_any(
    server_factory: Start,
) -> None:
    server = server_factory("--workers", "2", "--demo")
    workers = server.worker_pids()
    ticks = [_cpu_ticks(pid) for pid in workers]

    def fresh(method: str, url: str, **kwargs: object) -> httpx.Response:
        # A connection of its own: whichever worker accepts it answers.
        with httpx.Client(timeout=60, auth=("api", KEY)) as client:
            return client.request(method, url, **kwargs)  # type: ignore[arg-type]

    run = fresh("POST", server.url + "/graphql", json={"query": FIRST_RUN}).json()
    name = run["data"]["project"]["runs"]["edges"][0]["node"]["name"]
    for _ in range(8):
        body = fresh(
            "POST",
            server.url + "/graphql",
            json={"query": EXPORT, "variables": {"run": name}},
        ).json()
        assert "errors" not in body, body
        (url,) = body["data"]["project"]["run"]["parquetHistory"]["parquetUrls"]
        for _ in range(3):
            got = fresh("GET", url)
            assert got.status_code == 200, got.text
            assert got.content[:4] == b"PAR1" and got.content[-4:] == b"PAR1"
    assert all(
        _cpu_ticks(pid) > before for pid, before in zip(workers, ticks, strict=True)
    )


PAGE = """query($after: String) { project(name: "mnist", entityName: "demo") {
  runCount runs(first: 50, after: $after) {
    edges { node { name } } pageInfo { endCursor hasNextPage } } } }"""


def test_pages_walked_across_workers_hold_every_run_once(
    server_factory: Start,
) -> None:
    server = server_factory("--workers", "2", "--demo")
    limits = httpx.Limits(max_keepalive_connections=0)  # each page: any worker
    names: list[str] = []
    after = None
    with httpx.Client(timeout=60, limits=limits, auth=("api", KEY)) as client:
        for _page in range(20):  # 320 runs: 7 pages; the guard is generous
            body = client.post(
                server.url + "/graphql",
                json={"query": PAGE, "variables": {"after": after}},
            ).json()
            runs = body["data"]["project"]["runs"]
            names += [edge["node"]["name"] for edge in runs["edges"]]
            if not runs["pageInfo"]["hasNextPage"]:
                break
            after = runs["pageInfo"]["endCursor"]
    assert body["data"]["project"]["runCount"] == 320
    assert len(names) == 320 and len(set(names)) == 320


def _established(pid: int, port: int) -> int:
    """Connections to ``port`` this process holds open (its socket inodes
    found among the established TCP sockets of the machine)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and local_port == port and fields[9] in inodes:
                held += 1
    return held


def test_keep_alive_connections_spread_over_the_workers(
    server_factory: Start,
) -> None:
    server = server_factory("--workers", "2")
    workers = server.worker_pids()
    port = int(server.url.rsplit(":", 1)[1])
    with contextlib.ExitStack() as stack:
        for _ in range(6):  # one after another, each kept open (an SDK's)
            client = stack.enter_context(httpx.Client(timeout=30))
            assert client.get(server.url + "/healthz").status_code == 200
        held = [_established(pid, port) for pid in workers]
    assert sum(held) == 6
    assert min(held) >= 2, held  # 3/3 when both are idle; never 5/1


STUBBORN = """
import signal, sys, time
from runs_server.http.workers import Supervisor

def serve(index):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a worker stuck in a request
    print("serving", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)

def started(pids):
    print("pids", *pids, flush=True)

sys.exit(Supervisor(1, serve, stop_s=1.0).run(started))
"""


def test_a_worker_that_ignores_sigterm_is_killed_at_the_deadline() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", STUBBORN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        said = sorted([process.stdout.readline(), process.stdout.readline()])
        assert said[1] == "serving\n"  # either may come first
        (pid,) = (int(p) for p in said[0].split()[1:])
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert time.monotonic() - began < 10  # stop_s, then SIGKILL
        assert _gone_within([pid], 5)
        assert process.stderr is not None
        assert f"worker pid {pid} did not stop in 1 s" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=20)


def test_optional_imports_are_made_before_the_fork() -> None:
    """pyarrow imports pandas on its first array: the parent imports both
    before forking, so no worker's first columnar page pays for them."""
    code = (
        "import sys\n"
        "from runs_server.command import _preload_optional\n"
        "assert 'pandas' not in sys.modules and 'pyarrow' not in sys.modules\n"
        "_preload_optional()\n"
        "print(sorted(m for m in ('pandas', 'pyarrow.ipc', 'pyarrow.parquet')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['pandas',", "'pyarrow.ipc',", "'pyarrow.parquet']"]
