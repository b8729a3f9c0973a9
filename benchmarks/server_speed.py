"""runs_server speed: server time of history pages against a read+serialize floor.

Run ``.venv/bin/python benchmarks/server_speed.py`` (``--quick`` for a small
version, ``--help`` for the knobs). See ``benchmarks/README.md`` for how to read
the numbers.

What is measured:

* server time: the ``Server-Timing`` header of a live server (uvicorn on a free
  loopback port, in a thread of this process) answering one GraphQL request
  for a page of runs with ``history(samples:)`` or ``sampledHistory(specs:)``
  selected inside ``project.runs``;
* floor: the same page's history rows read with a plain sqlite3 ``SELECT`` from
  the same file, sampled to the same rows and serialised as the same response
  body with orjson, the server's JSON library; every floor body is checked to
  equal the server's body before anything is timed;
* scaling: the same page from a small and a large project, and pages of 25, 50
  and 100 runs.

The machine may be shared and noisy: every case is measured side by side
(server, then floor) in each of several rounds, and medians are reported.
Nothing asserts absolute times; the exit status is 0 unless the benchmark
itself cannot run (e.g. a floor body that differs from the server's).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from runs_server.history.sampling import sample_indices
from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store, StoreError
from runs_server.store.ddl import SCHEMA_VERSION

# Bump when the generated data changes, so cached stores are rebuilt.
DATA_VERSION = 1

ENTITY = "bench"
BIG = "big"
SMALL = "small"
SAMPLES = 500
PAGE = 50
KEYS = ("_step", "loss")
RATIO_TARGET = 2.0
# "Close to 1": a page from the large project may cost at most this much more
# than the same page from the small one (the noise band of a shared machine).
SCALE_TOLERANCE = 1.25
BASE_TIME = datetime(2024, 1, 1)

HISTORY_QUERY = """
query BenchHistory($entity: String, $project: String, $first: Int,
                   $after: String, $samples: Int) {
  project(entityName: $entity, name: $project) {
    runs(first: $first, after: $after) {
      edges { node { name history(samples: $samples) } }
    }
  }
}
"""

SAMPLED_QUERY = """
query BenchSampled($entity: String, $project: String, $first: Int,
                   $after: String, $specs: [JSONString!]!) {
  project(entityName: $entity, name: $project) {
    runs(first: $first, after: $after) {
      edges { node { name sampledHistory(specs: $specs) } }
    }
  }
}
"""

CURSOR_QUERY = """
query BenchCursor($entity: String, $project: String, $first: Int, $after: String) {
  project(entityName: $entity, name: $project) {
    runs(first: $first, after: $after) { pageInfo { endCursor } }
  }
}
"""

_DUR = re.compile(r"dur=([0-9.]+)")


# -- the data ------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    runs: int
    small_runs: int
    steps: int
    seed: int = 0

    def key(self) -> str:
        text = (
            f"v{DATA_VERSION}-s{SCHEMA_VERSION}-{self.runs}-{self.small_runs}-"
            f"{self.steps}-{self.seed}"
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def history_rows(rng: random.Random, steps: int) -> list[str]:
    """One run's history as stored JSON text: a training curve, 7-9 keys a row.

    ``val_*`` every 10 steps (a second cadence); about one row in 500 holds a
    bare ``NaN`` (in ``grad_norm``), as real W&B history does.
    """
    lr0 = rng.choice((1e-4, 3e-4, 1e-3, 3e-3))
    decay = rng.uniform(150.0, 600.0)
    floor = rng.uniform(0.02, 0.3)
    t0 = 1.7e9 + rng.random() * 1e7
    pace = rng.uniform(0.05, 0.8)
    rows: list[str] = []
    for step in range(steps):
        loss = 2.3 * math.exp(-step / decay) + floor + rng.gauss(0.0, 0.02)
        row: dict[str, Any] = {
            "_step": step,
            "_runtime": step * pace + rng.random() * 0.01,
            "_timestamp": t0 + step * pace,
            "loss": loss,
            "acc": max(0.0, min(1.0, 1.0 - loss / 2.6 + rng.gauss(0.0, 0.01))),
            "lr": lr0 * 0.5 ** (step // 250),
            "grad_norm": abs(rng.gauss(1.0, 0.3)),
        }
        if step % 10 == 9:
            row["val_loss"] = loss + abs(rng.gauss(0.05, 0.02))
            row["val_acc"] = row["acc"] - abs(rng.gauss(0.02, 0.01))
        if rng.random() < 0.002:
            row["grad_norm"] = math.nan
            rows.append(json.dumps(row, separators=(",", ":")))
        else:
            rows.append(orjson.dumps(row).decode())
    return rows


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def build_store(path: Path, params: Params) -> None:
    """Write both projects through the typed store API into ``path``."""
    partial = path.with_name(path.name + ".partial")
    _remove(partial)
    with Store(partial) as store:
        store.conn.execute("PRAGMA synchronous = OFF")  # a cache: speed over safety
        store.users.create("bench", entity=ENTITY)
        for project, count in ((BIG, params.runs), (SMALL, params.small_runs)):
            store.projects.create(ENTITY, project, created_at=BASE_TIME)
            rng = random.Random(f"{project}-{params.seed}")
            for i in range(count):
                created = BASE_TIME + timedelta(minutes=i)
                run = store.runs.add(
                    f"{ENTITY}/{project}",
                    f"{project}-{i:05d}",
                    config={
                        "lr": rng.choice((1e-4, 3e-4, 1e-3)),
                        "batch_size": rng.choice((32, 64, 128)),
                        "model": {"layers": rng.randint(2, 12), "act": "gelu"},
                    },
                    tags=["bench", rng.choice(("a", "b", "c"))],
                    group=f"g{i % 7}",
                    user="bench",
                    created_at=created,
                    heartbeat_at=created + timedelta(minutes=30),
                )
                store.history.log(run, history_rows(rng, params.steps))
    os.replace(partial, path)  # closed: the WAL is checkpointed and gone


def open_store(params: Params, rebuild: bool) -> tuple[Path, float | None]:
    """The cached store file for ``params``; build time when (re)built."""
    folder = Path(tempfile.gettempdir()) / "runs_server_bench"
    folder.mkdir(exist_ok=True)
    path = folder / f"store-{params.key()}.sqlite"
    if path.exists() and not rebuild:
        try:
            Store(path).close()  # refuses files of another schema version
            return path, None
        except (StoreError, sqlite3.DatabaseError) as exc:
            print(f"cached store unusable ({exc}); rebuilding", file=sys.stderr)
    _remove(path)
    print(
        f"building {path} ({params.runs:,} + {params.small_runs:,} runs x "
        f"{params.steps:,} steps) ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    build_store(path, params)
    return path, time.perf_counter() - started


# -- the floor: plain sqlite3 + orjson -----------------------------------------


@dataclass(frozen=True)
class Page:
    """Which runs a case asks for: ``first`` runs after ``after`` in a project."""

    project: str
    first: int
    after_cursor: str | None = None  # the server's opaque cursor
    after_key: tuple[str, str] | None = None  # the same position: (created_at, name)


def page_runs(conn: sqlite3.Connection, project_id: int, page: Page) -> list[Any]:
    """``(id, name)`` of the page's runs, by ``+created_at`` then name (keyset)."""
    sql = "SELECT id, name FROM runs WHERE project_id = ?"
    params: list[object] = [project_id]
    if page.after_key is not None:
        sql += " AND (created_at, name) > (?, ?)"
        params.extend(page.after_key)
    sql += " ORDER BY created_at, name LIMIT ?"
    params.append(page.first)
    return conn.execute(sql, params).fetchall()


def rows_by_run(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    """All stored history rows (JSON text) of the runs ``ids``, in step order."""
    marks = ",".join("?" * len(ids))
    out: dict[int, list[str]] = {run_id: [] for run_id in ids}
    cursor = conn.execute(
        f"SELECT run_id, row FROM history WHERE run_id IN ({marks}) "
        "ORDER BY run_id, step",
        list(ids),
    )
    for run_id, row in cursor:
        out[run_id].append(row)
    return out


def kept(rows: list[str], samples: int) -> list[str]:
    return [rows[i] for i in sample_indices(len(rows), samples)]


def _body(edges: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"data": {"project": {"runs": {"edges": edges}}}})


def floor_history(conn: sqlite3.Connection, project_id: int, page: Page) -> bytes:
    """The body of ``history(samples: 500)``: rows pass through as strings."""
    runs = page_runs(conn, project_id, page)
    rows = rows_by_run(conn, [r[0] for r in runs])
    edges = [
        {"node": {"name": name, "history": kept(rows[run_id], SAMPLES)}}
        for run_id, name in runs
    ]
    return _body(edges)


def _cut(text: str, keys: Sequence[str]) -> dict[str, Any]:
    try:
        row = orjson.loads(text)
    except orjson.JSONDecodeError:  # bare NaN/Infinity tokens
        row = json.loads(text)
    return {k: row[k] for k in keys}


def floor_sampled(conn: sqlite3.Connection, project_id: int, page: Page) -> bytes:
    """The body of ``sampledHistory``: kept rows decoded and cut to the keys.

    Every benchmark row holds all of ``KEYS``, so no row is filtered out: the
    floor skips the AND rule the server must apply (a strict floor).
    """
    runs = page_runs(conn, project_id, page)
    rows = rows_by_run(conn, [r[0] for r in runs])
    edges = [
        {
            "node": {
                "name": name,
                "sampledHistory": [
                    [_cut(t, KEYS) for t in kept(rows[run_id], SAMPLES)]
                ],
            }
        }
        for run_id, name in runs
    ]
    return _body(edges)


# -- cases and measurements ----------------------------------------------------


@dataclass
class Case:
    label: str
    kind: str  # "history" or "sampled"
    page: Page
    gzip: bool = False
    server_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    body_bytes: int = 0

    def payload(self) -> bytes:
        variables: dict[str, Any] = {
            "entity": ENTITY,
            "project": self.page.project,
            "first": self.page.first,
            "after": self.page.after_cursor,
        }
        if self.kind == "history":
            query = HISTORY_QUERY
            variables["samples"] = SAMPLES
        else:
            query = SAMPLED_QUERY
            spec = {"keys": list(KEYS), "samples": SAMPLES}
            variables["specs"] = [json.dumps(spec)]
        return orjson.dumps({"query": query, "variables": variables})

    def floor(self, conn: sqlite3.Connection, project_id: int) -> bytes:
        make = floor_history if self.kind == "history" else floor_sampled
        body = make(conn, project_id, self.page)
        if self.gzip:  # as the server does when asked: level 1
            body = gzip.compress(body, 1)
        return body


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


class Bench:
    def __init__(self, path: Path, client: httpx.Client, url: str) -> None:
        self.client = client
        self.url = url
        # The floor's own connection, configured as the server's store is.
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA cache_size = -65536")
        ids = dict(self.conn.execute("SELECT name, id FROM projects").fetchall())
        self.project_ids: dict[str, int] = {str(k): int(v) for k, v in ids.items()}

    def close(self) -> None:
        self.conn.close()

    def post(self, payload: bytes, gzipped: bool) -> tuple[float, float, bytes]:
        """One request: (server ms from Server-Timing, wall ms, decoded body)."""
        headers = {
            "content-type": "application/json",
            "accept-encoding": "gzip" if gzipped else "identity",
        }
        started = time.perf_counter()
        response = self.client.post(self.url, content=payload, headers=headers)
        wall = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"server answered {response.status_code}: {response.text}")
        timing = _DUR.search(response.headers.get("server-timing", ""))
        if timing is None:
            raise SystemExit("the response carries no Server-Timing dur=")
        if gzipped and response.headers.get("content-encoding") != "gzip":
            raise SystemExit("asked for gzip, got an uncompressed response")
        return float(timing.group(1)), wall, response.content

    def cursor_before_last_page(self, project: str, runs: int) -> Page:
        """The last page of ``project``, positioned by cursor (keyset), not offset."""
        after: str | None = None
        remaining = runs - PAGE
        while remaining > 0:
            first = min(1000, remaining)
            variables = {
                "entity": ENTITY,
                "project": project,
                "first": first,
                "after": after,
            }
            _s, _w, body = self.post(
                orjson.dumps({"query": CURSOR_QUERY, "variables": variables}), False
            )
            after = orjson.loads(body)["data"]["project"]["runs"]["pageInfo"][
                "endCursor"
            ]
            remaining -= first
        row = self.conn.execute(
            "SELECT created_at, name FROM runs WHERE project_id = ? "
            "ORDER BY created_at, name LIMIT 1 OFFSET ?",
            (self.project_ids[project], runs - PAGE - 1),
        ).fetchone()
        return Page(project, PAGE, after, (str(row[0]), str(row[1])))

    def check(self, case: Case) -> None:
        """The floor must produce the server's response, or its time means nothing."""
        _s, _w, served = self.post(case.payload(), False)
        floor = case.floor(self.conn, self.project_ids[case.page.project])
        if case.gzip:
            floor = gzip.decompress(floor)
        got = json.loads(served)
        if "errors" in got:
            raise SystemExit(f"{case.label}: server errors {got['errors']}")
        if got != json.loads(floor):
            raise SystemExit(
                f"{case.label}: the floor's body differs from the server's "
                f"({len(floor):,} vs {len(served):,} bytes); fix the floor"
            )
        edges = got["data"]["project"]["runs"]["edges"]
        if len(edges) != case.page.first:
            raise SystemExit(f"{case.label}: {len(edges)} runs, not {case.page.first}")
        case.body_bytes = len(served)

    def measure(self, case: Case, record: bool) -> None:
        payload = case.payload()
        project_id = self.project_ids[case.page.project]
        server, wall, _body = self.post(payload, case.gzip)
        started = time.perf_counter()
        case.floor(self.conn, project_id)
        floor = (time.perf_counter() - started) * 1000
        if record:
            case.server_ms.append(server)
            case.wall_ms.append(wall)
            case.floor_ms.append(floor)
            case.ratios.append(server / floor)


def run_rounds(bench: Bench, cases: list[Case], repeats: int) -> None:
    """Warm up, then ``repeats`` rounds over all cases, server and floor paired."""
    for case in cases:
        bench.check(case)
        bench.measure(case, record=False)
    for i in range(repeats):
        print(f"round {i + 1}/{repeats}", file=sys.stderr, flush=True)
        # Alternate the order so slow drift on the machine hits all cases.
        for case in cases if i % 2 == 0 else reversed(cases):
            bench.measure(case, record=True)


# -- report --------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(
    cases: dict[str, Case], params: Params, repeats: int, store: Path
) -> list[str]:
    lines: list[str] = []
    width = max(len(c.label) for c in cases.values())
    head = (
        f"{'case':<{width}}  {'server ms':>9}  {'floor ms':>8}  "
        f"{'server/floor':>12}  {'wall ms':>8}  {'body KB':>8}"
    )
    lines += [head, "-" * len(head)]
    for case in cases.values():
        lines.append(
            f"{case.label:<{width}}  {median(case.server_ms):>9.1f}  "
            f"{median(case.floor_ms):>8.1f}  {median(case.ratios):>12.2f}  "
            f"{median(case.wall_ms):>8.1f}  {case.body_bytes / 1024:>8.0f}"
        )
    lines.append("")
    lines.append(
        f"Target A: server time <= {RATIO_TARGET:.1f} x floor "
        f"(page of {PAGE} runs, {SAMPLES} samples, {params.runs:,}-run project)"
    )
    for key, name in (("sampled", "sampledHistory"), ("history", "history")):
        ratio = median(cases[key].ratios)
        lines.append(f"  {name:<15} {ratio:5.2f}  {verdict(ratio <= RATIO_TARGET)}")
    small = median(cases["history_small"].server_ms)
    big = median(cases["history"].server_ms)
    last = median(cases["history_last"].server_ms)
    lines.append("")
    lines.append(
        "Target B: time per page grows with the page size, not the project size"
    )
    for runs, ms in ((params.small_runs, small), (params.runs, big)):
        label = f"page of {PAGE}, {runs:,}-run project"
        lines.append(f"  {label:<34} {ms:7.1f} ms")
    scale = big / small
    lines.append(
        f"  ratio {params.runs:,}/{params.small_runs:,}: {scale:.2f}  "
        f"{verdict(scale <= SCALE_TOLERANCE)} (close to 1: <= {SCALE_TOLERANCE})"
    )
    lines.append(
        f"  last page of the {params.runs:,}-run project (after cursor): "
        f"{last:.1f} ms ({last / big:.2f} x the first page)"
    )
    sizes = [(25, "history_25"), (50, "history"), (100, "history_100")]
    per_page = "  ".join(
        f"{n}: {median(cases[k].server_ms):.1f} ms "
        f"({median(cases[k].server_ms) / n:.2f} ms/run)"
        for n, k in sizes
    )
    lines.append(f"  per_page {per_page}")
    lines.append("")
    lines.append(
        f"medians of {repeats} rounds; ratios are medians of per-round "
        "server/floor pairs; 'wall' is the client's round trip (informational)"
    )
    lines.append(
        f"store {store} ({params.runs:,} + {params.small_runs:,} runs x "
        f"{params.steps:,} steps); python {platform.python_version()}, "
        f"sqlite {sqlite3.sqlite_version}, orjson {orjson.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a small version (< 60 s, cold cache)"
    )
    parser.add_argument("--runs", type=int, help="runs of the large project (2000)")
    parser.add_argument(
        "--small-runs", type=int, help="runs of the small project (200)"
    )
    parser.add_argument("--steps", type=int, help="history steps per run (1000)")
    parser.add_argument("--repeats", type=int, help="measured rounds (9)")
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the cached store file"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.runs = args.runs or (500 if quick else 2000)
    args.small_runs = args.small_runs or (100 if quick else 200)
    args.steps = args.steps or 1000
    args.repeats = args.repeats or (5 if quick else 9)
    if args.runs < 100 or args.small_runs < PAGE:
        parser.error(f"need --runs >= 100 (pages of 100) and --small-runs >= {PAGE}")
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    params = Params(args.runs, args.small_runs, args.steps)
    path, built = open_store(params, args.rebuild)
    if built is not None:
        print(f"built in {built:.1f} s", file=sys.stderr)
    store = Store(path)
    # compress="always": the gzip case measures gzip, though on loopback.
    app = RunsServerApp(store, ServerConfig(compress="always"))
    server = BackgroundServer(app).start()
    client = httpx.Client(timeout=300)
    bench = Bench(path, client, server.graphql_url)
    try:
        cases: dict[str, Case] = {
            "sampled": Case(
                f"sampledHistory {PAGE} runs, {params.runs} project",
                "sampled",
                Page(BIG, PAGE),
            ),
            "history": Case(
                f"history {PAGE} runs, {params.runs} project",
                "history",
                Page(BIG, PAGE),
            ),
            "sampled_small": Case(
                f"sampledHistory {PAGE} runs, {params.small_runs} project",
                "sampled",
                Page(SMALL, PAGE),
            ),
            "history_small": Case(
                f"history {PAGE} runs, {params.small_runs} project",
                "history",
                Page(SMALL, PAGE),
            ),
            "history_last": Case(
                f"history {PAGE} runs, {params.runs} project, last page",
                "history",
                bench.cursor_before_last_page(BIG, params.runs),
            ),
            "history_25": Case(
                f"history 25 runs, {params.runs} project", "history", Page(BIG, 25)
            ),
            "history_100": Case(
                f"history 100 runs, {params.runs} project", "history", Page(BIG, 100)
            ),
            "history_gzip": Case(
                f"history {PAGE} runs, {params.runs} project, gzip",
                "history",
                Page(BIG, PAGE),
                gzip=True,
            ),
        }
        run_rounds(bench, list(cases.values()), args.repeats)
    finally:
        bench.close()
        client.close()
        server.stop()
        store.close()
    print(
        f"\nruns_server speed: pages with {SAMPLES} history samples per run "
        f"(times in ms, server = Server-Timing)\n"
    )
    print("\n".join(report(cases, params, args.repeats, path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
