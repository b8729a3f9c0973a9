"""AsyncApi against Api, side by side in one run.

Run ``.venv/bin/python benchmarks/async_speed.py`` (``--quick`` for fewer
rounds). Targets (issue 22):

* ``await runs.histories()`` within 1.1x of the sync call (demo/mnist, 320
  runs x 500 samples of ``loss``, pandas; best of N rounds each);
* listing 8 projects of 4 pages each at 30 ms added latency:
  ``asyncio.gather`` at least 3x faster than one listing after another;
* 1,000 concurrent ``count()`` calls: all answered, the open connections
  never above the client's connection limit (httpx's default, 100), and no
  file-descriptor exhaustion (peak descriptors reported).

The server runs in its own process (``python -m runs_server``) over a store
seeded here: the demo project plus 8 projects of 40 runs. Answers are
compared equal before any ratio is printed. Exit status 1 on a miss. A full
run (not ``--quick``) writes its figures into README.md and
benchmarks/README.md (``<!-- bench:async -->``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

import runs_client
from runs_server.loaders.demo import seed_demo
from runs_server.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readme_figures import write_block

ROOT = Path(__file__).resolve().parent.parent
DEMO = "demo/mnist"
PROJECTS = [f"demo/bench-{i}" for i in range(8)]
RUNS_PER_PROJECT, PER_PAGE = 40, 10  # 4 pages each
CONCURRENT_COUNTS = 1000
CONNECTION_LIMIT = 100  # httpx's default max_connections


def seed(path: str) -> None:
    store = Store(path)
    try:
        seed_demo(store)
        for project in PROJECTS:
            store.projects.create(*project.split("/"))
            for i in range(RUNS_PER_PROJECT):
                store.runs.add(project, f"r{i:03d}", config={"i": i})
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(db: str, latency_ms: float) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "runs_server", "--port", str(port),
            "--latency-ms", str(latency_ms), "--db", db]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.post(f"{url}/graphql", json={"query": "{viewer{id}}"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("runs_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def best(rounds: int, measure: Callable[[], tuple[float, Any]]) -> tuple[float, Any]:
    """The fastest of ``rounds`` runs, and the last answer."""
    times, answer = [], None
    for _ in range(rounds):
        seconds, answer = measure()
        times.append(seconds)
    return min(times), answer


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


# -- 1: histories ------------------------------------------------------------


def histories(url: str, rounds: int) -> tuple[bool, str]:
    def sync() -> tuple[float, pd.DataFrame]:
        with runs_client.Api(api_key="bench", base_url=url) as api:
            started = time.perf_counter()
            frame = api.runs(DEMO).histories(
                samples=500, keys=["loss"], format="pandas"
            )
            return time.perf_counter() - started, frame

    async def aio() -> tuple[float, pd.DataFrame]:
        async with runs_client.AsyncApi(api_key="bench", base_url=url) as api:
            started = time.perf_counter()
            runs = api.runs(DEMO)
            frame = await runs.histories(samples=500, keys=["loss"], format="pandas")
            return time.perf_counter() - started, frame

    sync_s, sync_frame = best(rounds, sync)
    async_s, async_frame = best(rounds, lambda: asyncio.run(aio()))
    pd.testing.assert_frame_equal(sync_frame, async_frame)
    ratio = async_s / sync_s
    ok = ratio <= 1.1
    print(f"histories() {len(sync_frame):,} rows: sync {sync_s * 1000:.0f} ms, "
          f"await {async_s * 1000:.0f} ms -> {ratio:.2f}x (target <= 1.1x) "
          f"{'ok' if ok else 'MISSED'}")  # fmt: skip
    figures = (
        f"`await runs.histories()` {ratio:.2f}x the sync call "
        f"({async_s * 1000:.0f} ms awaited, {sync_s * 1000:.0f} ms sync)"
    )
    return ok, figures


# -- 2: many listings at once ------------------------------------------------


async def listing(api: runs_client.AsyncApi, project: str) -> list[str]:
    runs = api.runs(project, per_page=PER_PAGE, include_sweeps=False)
    return [run.id async for run in runs]


def gathered(url: str, rounds: int) -> tuple[bool, str]:
    async def apart() -> tuple[float, list[list[str]]]:
        async with runs_client.AsyncApi(api_key="bench", base_url=url) as api:
            started = time.perf_counter()
            got = [await listing(api, p) for p in PROJECTS]
            return time.perf_counter() - started, got

    async def together() -> tuple[float, list[list[str]]]:
        async with runs_client.AsyncApi(api_key="bench", base_url=url) as api:
            started = time.perf_counter()
            got = list(await asyncio.gather(*(listing(api, p) for p in PROJECTS)))
            return time.perf_counter() - started, got

    def sync() -> tuple[float, list[list[str]]]:
        with runs_client.Api(api_key="bench", base_url=url) as api:
            started = time.perf_counter()
            got = [
                [r.id for r in api.runs(p, per_page=PER_PAGE, include_sweeps=False)]
                for p in PROJECTS
            ]
            return time.perf_counter() - started, got

    apart_s, apart_ids = best(rounds, lambda: asyncio.run(apart()))
    together_s, together_ids = best(rounds, lambda: asyncio.run(together()))
    sync_s, sync_ids = best(rounds, sync)
    assert apart_ids == together_ids == sync_ids
    assert all(len(ids) == RUNS_PER_PROJECT for ids in together_ids)
    speedup = apart_s / together_s
    ok = speedup >= 3.0
    print(f"8 projects x 4 pages at 30 ms: one after another {apart_s * 1000:.0f} ms "
          f"(sync Api {sync_s * 1000:.0f} ms), gather {together_s * 1000:.0f} ms "
          f"-> {speedup:.1f}x (target >= 3x) {'ok' if ok else 'MISSED'}")  # fmt: skip
    figures = (f"8 project listings at 30 ms latency {speedup:.1f}x faster "
               f"gathered than one after another ({together_s * 1000:,.0f} ms "
               f"against {apart_s * 1000:,.0f} ms; sync `Api` "
               f"{sync_s * 1000:,.0f} ms)")  # fmt: skip
    return ok, figures


# -- 3: a thousand counts at once --------------------------------------------


def counts(url: str) -> tuple[bool, str]:
    async def main() -> tuple[list[int], int, int, int]:
        fds_before = open_fds()
        async with runs_client.AsyncApi(api_key="bench", base_url=url) as api:
            pool = api.client.http_client._transport._pool  # type: ignore[attr-defined]
            peak = {"connections": 0, "fds": fds_before}
            done = asyncio.Event()

            async def watch() -> None:
                while not done.is_set():
                    peak["connections"] = max(
                        peak["connections"], len(pool.connections)
                    )
                    peak["fds"] = max(peak["fds"], open_fds())
                    await asyncio.sleep(0.002)

            watcher = asyncio.ensure_future(watch())
            try:
                answers = await asyncio.gather(
                    *(api.runs(p).count() for p in PROJECTS * (CONCURRENT_COUNTS // 8))
                )
            finally:
                done.set()
                await watcher
            return list(answers), peak["connections"], peak["fds"], fds_before

    started = time.perf_counter()
    answers, connections, fds, before = asyncio.run(main())
    seconds = time.perf_counter() - started
    ok = (
        len(answers) == CONCURRENT_COUNTS
        and set(answers) == {RUNS_PER_PROJECT}
        and connections <= CONNECTION_LIMIT
    )
    print(f"{len(answers):,} concurrent count() at 30 ms: {seconds:.2f} s, peak open "
          f"connections {connections} (limit {CONNECTION_LIMIT}), peak descriptors "
          f"{fds} (from {before}) {'ok' if ok else 'MISSED'}")  # fmt: skip
    figures = (f"{len(answers):,} concurrent `count()` calls in {seconds:.1f} s "
               f"on at most {connections} connections (limit {CONNECTION_LIMIT}), "
               f"peak {fds} file descriptors")  # fmt: skip
    return ok, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        seed(db)
        results: list[tuple[bool, str]] = []
        with server(db, 0.0) as url:
            results.append(histories(url, rounds))
        with server(db, 30.0) as url:
            results.append(gathered(url, rounds))
            results.append(counts(url))
    if not args.quick:
        figures = textwrap.fill("; ".join(text for _, text in results) + ".", 79)
        for path in write_block("async", figures):
            print(f"wrote this run's figures into {path.relative_to(ROOT)}")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
