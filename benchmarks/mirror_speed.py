"""Mirroring a project against the official client's way, side by side.

Run ``.venv/bin/python benchmarks/mirror_speed.py``. Targets:

* mirroring the demo project (server in its own process, ``--latency-ms 30``):
  >= 10x a baseline that fetches with the official client's ``scan_history``
  algorithm run by run and writes the same rows through the same store API;
* an incremental re-sync with nothing changed: <= ceil(runs / 1000) + 2
  requests.

The baseline is written here with plain httpx (one keep-alive connection) and
the stdlib json module, as wandb 0.18's public API works: list the runs 50 per
page, then per run ``lastHistoryStep`` (a historyKeys query), history windows
of 1,000 steps (``HistoryScan``), its system events, and each sweep once. Both
copies are compared equal (through the store) before any ratio is printed.
Exit status 1 on a miss.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import runs_client
from runs_mirror import mirror_project
from runs_server.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from histories_speed import ROOT, Meter, server
from readme_figures import write_block

DEMO = "demo/mnist"
ENTITY, PROJECT = DEMO.split("/")
TARGET_SPEEDUP = 10.0

LIST = """query Runs($project: String!, $entity: String!, $cursor: String,
  $perPage: Int = 50) {
  project(name: $project, entityName: $entity) {
    createdAt
    runs(after: $cursor, first: $perPage) {
      edges { node { name displayName state config summaryMetrics systemMetrics
        tags group jobType commit host notes description sweepName createdAt
        heartbeatAt updatedAt historyLineCount user { name username } } }
      pageInfo { endCursor hasNextPage } } } }"""
KEYS = """query RunHistoryKeys($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) { run(name: $name) { historyKeys } } }"""
SCAN = """query HistoryPage($entity: String!, $project: String!, $run: String!,
  $minStep: Int64!, $maxStep: Int64!, $pageSize: Int!) {
  project(name: $project, entityName: $entity) { run(name: $run) {
    history(minStep: $minStep, maxStep: $maxStep, samples: $pageSize) } } }"""
EVENTS = """query RunEvents($project: String!, $entity: String!, $name: String!,
  $samples: Int) {
  project(name: $project, entityName: $entity) { run(name: $name) {
    events(samples: $samples) } } }"""
SWEEP = """query Sweep($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) { sweep(sweepName: $name) {
    name displayName method state description config bestLoss runCountExpected
    createdAt updatedAt } } }"""


def baseline(url: str, store: Store) -> Meter:
    """The official client's algorithm, run by run, into ``store``."""
    from runs_mirror import write  # the same store writes as the mirror

    meter = Meter()
    with httpx.Client(
        base_url=url,
        headers={"Accept-Encoding": "gzip"},
        timeout=60,
        event_hooks={"response": [meter]},
    ) as http:

        def post(query: str, **variables: Any) -> Any:
            response = http.post(
                "/graphql",
                json={"query": query, "variables": {**variables}},
            )
            response.raise_for_status()
            return json.loads(response.content)["data"]["project"]

        base = {"entity": ENTITY, "project": PROJECT}
        cursor = None
        runs: list[dict[str, Any]] = []
        while True:
            page = post(LIST, cursor=cursor, **base)
            runs += [e["node"] for e in page["runs"]["edges"]]
            if not page["runs"]["pageInfo"]["hasNextPage"]:
                break
            cursor = page["runs"]["pageInfo"]["endCursor"]
        with store.transaction():
            write.ensure_project(store, ENTITY, PROJECT, page)
        sweeps: set[str] = set()
        for node in runs:
            name = node["name"]
            if node["sweepName"] and node["sweepName"] not in sweeps:
                sweeps.add(node["sweepName"])
                sweep = post(SWEEP, name=node["sweepName"], **base)["sweep"]
                write.put_sweep(store, DEMO, sweep)
            last = post(KEYS, name=name, **base)["run"]["historyKeys"]["lastStep"]
            rows: list[dict[str, Any]] = []
            step = 0
            while step < last + 1:  # HistoryScan: windows of page_size steps
                window = post(
                    SCAN,
                    run=name,
                    minStep=step,
                    maxStep=min(step + 1000, last + 1),
                    pageSize=1000,
                    **base,
                )
                rows += [json.loads(r) for r in window["run"]["history"]]
                step += 1000
            events = post(EVENTS, name=name, samples=100_000, **base)["run"]["events"]
            node["events"] = [json.loads(e) for e in events]
            node["history"] = rows
            with store.transaction():
                write.write_first(store, DEMO, node, existed=False, restart=False)
    return meter


def rows_of(store: Store) -> list[Any]:
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT runs.name, step, row FROM history JOIN runs "
            "ON runs.id=history.run_id ORDER BY runs.name, step"
        )
    ] + [
        tuple(r)
        for r in store.conn.execute(
            "SELECT runs.name, timestamp, row FROM events JOIN runs "
            "ON runs.id=events.run_id ORDER BY runs.name, timestamp, seq"
        )
    ]


def runs_of(store: Store) -> list[Any]:
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT name, display_name, state, config, summary_metrics, "
            "system_metrics, tags, group_name, sweep_name, username, created_at, "
            "heartbeat_at, updated_at, history_line_count FROM runs ORDER BY name"
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    misses = []
    with tempfile.TemporaryDirectory() as tmp, server(args.latency_ms) as url:
        with Store(Path(tmp) / "base.db") as base_store:
            t0 = time.perf_counter()
            meter = baseline(url, base_store)
            base_s = time.perf_counter() - t0
            base_rows, base_runs = rows_of(base_store), runs_of(base_store)
        with (
            Store(Path(tmp) / "copy.db") as copy,
            runs_client.Api(base_url=url) as api,
        ):
            t0 = time.perf_counter()
            first = mirror_project(api, DEMO, copy, progress=False)
            mirror_s = time.perf_counter() - t0
            if rows_of(copy) != base_rows or runs_of(copy) != base_runs:
                print("the mirror's copy differs from the baseline's", file=sys.stderr)
                return 1
            again = mirror_project(api, DEMO, copy, progress=False)
        runs = first.new
        speedup = base_s / mirror_s
        allowed = math.ceil(runs / 1000) + 2
        print(
            f"demo project: {runs} runs, {first.history_rows:,} history rows, "
            f"{first.event_rows:,} event rows, latency {args.latency_ms:g} ms"
        )
        print(
            f"  baseline (scan_history run by run): {base_s:6.2f} s, "
            f"{meter.requests} requests"
        )
        print(
            f"  mirror:                             {mirror_s:6.2f} s, "
            f"{first.requests} requests"
        )
        print(f"  speedup {speedup:5.1f}x   (target >= {TARGET_SPEEDUP:g}x)")
        print(
            f"  re-sync, nothing changed: {again.requests} requests "
            f"(target <= ceil({runs}/1000)+2 = {allowed}), {again.seconds:.2f} s"
        )
        if args.latency_ms == 30.0:  # the READMEs quote the default run
            figures = (
                f"{speedup:.3g}x ({base_s:.2f} s against {mirror_s:.2f} s; "
                f"{meter.requests} requests against {first.requests}), re-sync "
                f"{again.requests} request{'s' if again.requests != 1 else ''}."
            )
            for path in write_block("mirror", figures):
                print(f"wrote this run's figures into {path.relative_to(ROOT)}")
        if speedup < TARGET_SPEEDUP:
            misses.append("mirror speedup")
        if again.requests > allowed or again.new or again.updated:
            misses.append("re-sync requests")
    if misses:
        print("MISSED: " + ", ".join(misses), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
