"""Listing speed: runs listings that ask only for what they show (issue 20).

Two ratios, each measured side by side in one run (never absolute times):

* the 320 demo runs with id, config and summary, at 30 ms latency: runs_client's
  ``api.runs(...)`` (pages sized by the byte budget up to the server's cap:
  one page here) against the official SDK 0.31's ``api.runs(..., lazy=False)``
  (``.venv-sdk31``, ``make sdk31-venv``; 50 runs a page): target >= 2.5x.
  Both without sweeps (the SDK's default), each on one ``Api`` warmed by a
  first listing (the SDK's imports and server features, our page cap: asked
  once per client); ``lazy=True`` (a lean page, then config and summary in
  one request) is printed beside it.
* ``runs_frame`` of 3 named columns against ``runs_frame`` of all columns,
  over 5,000 runs whose config and summary hold 200 keys each (loaded straight
  into a store with the JSON Lines loader, served at 0 ms): target >= 5x.

The demo listings are interleaved (SDK, ours, ours lazy; 3 x ``--repeats``
rounds), the wide frames too (``--repeats`` rounds); medians count. Exits 1
on a miss.

    .venv/bin/python benchmarks/listing_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from histories_speed import server
from readme_figures import write_block

import runs_client
from runs_client import runs_frame
from runs_server.loaders.demo import SEED
from runs_server.loaders.jsonl import load_lines
from runs_server.store import Store

ROOT = Path(__file__).resolve().parent.parent
SDK_PYTHON = Path(os.environ.get("RUNS_SDK31_PYTHON", ROOT / ".venv-sdk31/bin/python"))
DEMO = "demo/mnist"
TARGET_DEMO = 2.5
TARGET_NAMED = 5.0
WIDE = "bench/wide"
WIDE_KEY = "w" * 40
WIDE_KEYS = 200
NAMED = ["config.c007", "config.c150", "summary.s042"]

# One listing per line read from stdin (the first warms the Api), its figures
# written back as a JSON line: the parent interleaves them with its own.
SDK_SCRIPT = """
import json, sys, time
import wandb
api = wandb.Api(timeout=120)
for _ in sys.stdin:
    api.flush()  # the SDK keeps listings: each must ask the server again
    t0 = time.perf_counter()
    listed = [(r.id, dict(r.config), dict(r.summary))
              for r in api.runs("demo/mnist", include_sweeps=False, lazy=False)]
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "runs": len(listed),
                      "config_keys": sum(len(c) for _, c, _ in listed)}), flush=True)
"""


def demo_key() -> str:
    """The demo user's key: the first draw of the demo seed's RNG."""
    return f"{random.Random(SEED).getrandbits(160):040x}"


class SdkListing:
    """The official SDK 0.31 in its own process, listing once per ``next()``."""

    def __init__(self, url: str) -> None:
        env = {**os.environ, "WANDB_BASE_URL": url, "WANDB_API_KEY": demo_key(),
               "WANDB_SILENT": "true", "WANDB_MODE": "online"}  # fmt: skip
        env.pop("WANDB_ENTITY", None)
        self.proc = subprocess.Popen(
            [str(SDK_PYTHON), "-c", SDK_SCRIPT], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            cwd=ROOT,
        )  # fmt: skip

    def next(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()  # the SDK's own timeout bounds it
        if not line:
            self.proc.wait(10)
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise SystemExit(f"the SDK failed:\n{err[-3000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


class Counter:
    """Requests an ``Api`` sent (an httpx request hook)."""

    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, _request: httpx.Request) -> None:
        self.requests += 1


def timed_api(
    url: str, key: str, fn: Callable[[runs_client.Api], Any], repeats: int, warm: bool
) -> list[tuple[float, int, Any]]:
    """Wall seconds, requests and result of each of ``repeats`` calls of
    ``fn(api)`` on one ``Api`` (warmed by a first, untimed call if ``warm``)."""
    counter = Counter()
    done = []
    with runs_client.Api(base_url=url, api_key=key) as api:
        api.client.http_client.event_hooks["request"] = [counter]
        if warm:
            fn(api)
        for _ in range(repeats):
            counter.requests = 0
            t0 = time.perf_counter()
            result = fn(api)
            done.append((time.perf_counter() - t0, counter.requests, result))
    return done


def listed(lazy: bool) -> Callable[[runs_client.Api], Any]:
    def go(api: runs_client.Api) -> Any:
        runs = api.runs(DEMO, include_sweeps=False, lazy=lazy)
        return [(r.id, r.config, r.summary) for r in runs]

    return go


def demo_case(repeats: int) -> tuple[float, str]:
    """Ours (default, and lazy) against SDK 0.31 lazy=False, 30 ms latency,
    interleaved listing by listing so that all see the same machine."""
    sdk_runs: list[dict[str, Any]] = []
    full: list[tuple[float, int, Any]] = []
    lazy: list[tuple[float, int, Any]] = []
    with server(30.0) as url:
        official = SdkListing(url)
        try:
            official.next()  # warms the SDK's Api
            for _ in range(repeats):
                sdk_runs.append(official.next())
                full += timed_api(url, demo_key(), listed(False), 1, warm=True)
                lazy += timed_api(url, demo_key(), listed(True), 1, warm=True)
        finally:
            official.close()
    sdk = {**sdk_runs[0], "walls": [r["wall"] for r in sdk_runs]}
    rows = full[0][2]
    config_keys = sum(len(c) for _, c, _ in rows)
    if len(rows) != sdk["runs"] or config_keys != sdk["config_keys"]:
        raise SystemExit(
            f"different listings: ours {len(rows)} runs / {config_keys} config "
            f"keys, the SDK's {sdk['runs']} / {sdk['config_keys']}"
        )
    sdk_s = statistics.median(sdk["walls"])
    lazy_s = statistics.median(w for w, _, _ in lazy)
    full_s = statistics.median(w for w, _, _ in full)
    ratio = sdk_s / full_s
    print(f"{len(rows)} demo runs with id, config and summary, 30 ms latency:")
    print(f"  SDK 0.31 api.runs(lazy=False):   {sdk_s:6.3f} s")
    print(
        f"  runs_client api.runs():          {full_s:6.3f} s, {full[0][1]} "
        f"requests: {ratio:.2f}x  (target >= {TARGET_DEMO:g}x)"
    )
    print(
        f"  runs_client api.runs(lazy=True): {lazy_s:6.3f} s, {lazy[0][1]} "
        f"requests: {sdk_s / lazy_s:.2f}x  (not a target)"
    )
    figures = (
        f"{ratio:.2f}x faster than SDK 0.31's `lazy=False` ({full_s:.2f} s against "
        f"{sdk_s:.2f} s, "
        f"{full[0][1]} request{'s' if full[0][1] != 1 else ''}; `lazy=True`: "
        f"{sdk_s / lazy_s:.2f}x, {lazy[0][1]} requests)"
    )
    return ratio, figures


def wide_lines(runs: int) -> Iterator[str]:
    """The JSON Lines of ``runs`` runs, ``WIDE_KEYS`` config and summary keys each."""
    yield json.dumps({"type": "user", "username": "bench", "api_key": WIDE_KEY})
    yield json.dumps({"type": "project", "entity": "bench", "name": "wide"})
    for i in range(runs):
        config = {f"c{k:03d}": i * 0.001 + k for k in range(WIDE_KEYS)}
        summary = {f"s{k:03d}": i * 0.5 - k for k in range(WIDE_KEYS)}
        yield json.dumps({"type": "run", "project": WIDE, "name": f"w{i:05d}",
                          "config": config, "summary": summary})  # fmt: skip


def named_case(runs: int, repeats: int) -> tuple[float, str]:
    """runs_frame of ``NAMED`` against runs_frame of every column, 0 ms."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "wide.db"
        t0 = time.perf_counter()
        with Store(str(db)) as store:
            load_lines(store, wide_lines(runs))
        print(f"\nbuilt {runs:,} runs x {WIDE_KEYS} config and summary keys in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        with server(0.0, str(db)) as url:
            alls, nameds = [], []
            for _ in range(repeats):  # interleaved: both see the same machine
                alls += timed_api(url, WIDE_KEY, lambda a: runs_frame(a.runs(WIDE)),
                                  1, warm=False)  # fmt: skip
                nameds += timed_api(url, WIDE_KEY, lambda a: runs_frame(
                    a.runs(WIDE), columns=NAMED), 1, warm=False)  # fmt: skip
    whole: pd.DataFrame = alls[0][2]
    named: pd.DataFrame = nameds[0][2]
    if len(whole.columns) != 9 + 2 * WIDE_KEYS or not whole[NAMED].equals(named):
        raise SystemExit("the named columns differ from those of the whole frame")
    all_s = statistics.median(w for w, _, _ in alls)
    named_s = statistics.median(w for w, _, _ in nameds)
    ratio = all_s / named_s
    print(f"runs_frame over {runs:,} runs, 0 ms latency:")
    print(f"  all {len(whole.columns)} columns: {all_s:6.3f} s, "
          f"{alls[0][1]} requests")  # fmt: skip
    print(f"  {len(NAMED)} named columns:  {named_s:6.3f} s, {nameds[0][1]} "
          f"requests: {ratio:.1f}x  (target >= {TARGET_NAMED:g}x)")  # fmt: skip
    figures = (
        f"{ratio:.1f}x faster than all columns, over {runs:,} runs x {WIDE_KEYS} keys "
        f"({named_s:.2f} s against {all_s:.2f} s; {nameds[0][1]} requests "
        f"against {alls[0][1]})"
    )
    return ratio, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1,000 wide runs, one repeat; no README figures",
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not SDK_PYTHON.exists():
        print(f"{SDK_PYTHON} is missing: run `make sdk31-venv`", file=sys.stderr)
        return 1
    repeats = 1 if args.quick else max(1, args.repeats)
    demo_ratio, demo_figures = demo_case(3 if args.quick else 3 * repeats)
    named_ratio, named_figures = named_case(1000 if args.quick else 5000, repeats)
    if not args.quick:
        text = f"Demo listing: {demo_figures}. Named columns: {named_figures}."
        for path in write_block("listing", text):
            print(f"wrote this run's figures into {path.relative_to(ROOT)}")
    misses = []
    if demo_ratio < TARGET_DEMO:
        misses.append(f"demo listing {demo_ratio:.2f}x < {TARGET_DEMO:g}x")
    if named_ratio < TARGET_NAMED:
        misses.append(f"named columns {named_ratio:.1f}x < {TARGET_NAMED:g}x")
    if misses:
        print("MISSED: " + "; ".join(misses), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
