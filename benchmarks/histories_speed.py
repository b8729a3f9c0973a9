"""histories() speed and memory against the per-run way of the official client.

Run ``.venv/bin/python benchmarks/histories_speed.py`` (``--quick`` for a short
version). See ``benchmarks/README.md``. Targets (issue 8, "Speed and memory"):

* 120 runs x 500 samples x 1 key: >= 30x the per-run baseline at 30 ms added
  latency, >= 5x at 0 ms;
* the whole demo project, full rows: >= 20x at 30 ms, >= 4x at 0 ms;
* client CPU, response bytes -> pandas: <= 2x orjson's parse of a strict-JSON
  sampledHistory page; <= 2x the stdlib's parse of a full-row page (body and
  lines);
* 1,000,000 numeric rows to polars: peak RSS growth <= 3x the frame's size.

The server runs in its own process (``python -m runs_server``). The baseline is
written here with plain httpx and the stdlib json module, as the official
client works: one keep-alive connection, the same Accept-Encoding, the
official client's per-run operation, serially, into the same frame. Outputs
are compared equal before any ratio is printed. Exit status 1 on a miss.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
from readme_figures import write_block

import runs_client

ROOT = Path(__file__).resolve().parent.parent
ENTITY, PROJECT = "demo", "mnist"
DEMO = f"{ENTITY}/{PROJECT}"

# The official SDK's per-run operations (wandb 0.18, public API).
SDK_SAMPLED = """query RunSampledHistory($project: String!, $entity: String!,
  $name: String!, $specs: [JSONString!]!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) { sampledHistory(specs: $specs) } } }"""
SDK_FULL = """query RunFullHistory($project: String!, $entity: String!,
  $name: String!, $samples: Int) {
  project(name: $project, entityName: $entity) {
    run(name: $name) { history(samples: $samples) } } }"""
SDK_LIST = """query Runs($project: String!, $entity: String!, $cursor: String,
  $perPage: Int = 50, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    runs(filters: $filters, after: $cursor, first: $perPage) {
      edges { node { name } } pageInfo { endCursor hasNextPage } } } }"""


# -- the server in its own process --------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(latency_ms: float, db: str | None = None) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "runs_server", "--port", str(port),
            "--latency-ms", str(latency_ms)]  # fmt: skip
    args += ["--db", db] if db else ["--demo"]
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


# -- measurement ----------------------------------------------------------------


@dataclass
class Meter:
    """Requests and the server's own time, from an httpx response hook."""

    requests: int = 0
    server_ms: float = 0.0

    def __call__(self, response: httpx.Response) -> None:
        self.requests += 1
        for part in response.headers.get("server-timing", "").split(","):
            if "dur=" in part:
                self.server_ms += float(part.split("dur=")[1].split(";")[0])


@dataclass
class Run:
    wall: float
    cpu: float
    meter: Meter
    frame: pd.DataFrame = field(repr=False)


def timed(fn: Any, meter: Meter) -> Run:
    cpu0, t0 = time.process_time(), time.perf_counter()
    frame = fn()
    return Run(time.perf_counter() - t0, time.process_time() - cpu0, meter, frame)


def sdk_frame(per_run: list[tuple[str, list[dict[str, Any]]]]) -> pd.DataFrame:
    """The official client's frame: one per run, concat, sorted columns."""
    frames = []
    for run_id, rows in per_run:
        if rows:
            df = pd.DataFrame.from_records(rows)
            df["run_id"] = run_id
            frames.append(df)
    if not frames:
        empty: pd.DataFrame = pd.DataFrame()
        return empty
    combined: pd.DataFrame = pd.concat(frames).reset_index(drop=True)
    rest = sorted(c for c in combined.columns if c != "run_id")
    ordered: pd.DataFrame = combined[["run_id", *rest]]
    return ordered


NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def baseline(url: str, names: list[str], keys: list[str] | None) -> Run:
    meter = Meter()

    def go() -> pd.DataFrame:
        http = httpx.Client(event_hooks={"response": [meter]}, timeout=120)
        with http:

            def post(query: str, variables: dict[str, Any]) -> Any:
                r = http.post(f"{url}/graphql", json={"query": query,
                              "variables": variables})  # fmt: skip
                return json.loads(r.content)["data"]

            listed: list[str] = []
            cursor = None
            while True:  # the official client lists runs, 50 a page
                page = post(SDK_LIST, {"project": PROJECT, "entity": ENTITY,
                                       "cursor": cursor, "filters": json.dumps(
                                           {"name": {"$in": names}})})  # fmt: skip
                runs = page["project"]["runs"]
                listed += [e["node"]["name"] for e in runs["edges"]]
                if not runs["pageInfo"]["hasNextPage"]:
                    break
                cursor = runs["pageInfo"]["endCursor"]
            per_run = []
            for name in listed:
                v = {"project": PROJECT, "entity": ENTITY, "name": name}
                if keys:
                    spec = json.dumps({"keys": ["_step", *keys], "samples": 500})
                    run = post(SDK_SAMPLED, {**v, "specs": [spec]})["project"]["run"]
                    # A strict-JSON server writes non-finite values as strings;
                    # W&B's consumers read them back as floats, as ours does.
                    rows = [
                        {k: NONFINITE.get(v, v) if v.__class__ is str else v
                         for k, v in row.items()}
                        for row in run["sampledHistory"][0]
                    ]  # fmt: skip
                else:
                    run = post(SDK_FULL, {**v, "samples": 500})["project"]["run"]
                    rows = [json.loads(line) for line in run["history"]]
                per_run.append((name, rows))
        return sdk_frame(per_run)

    return timed(go, meter)


def ours(url: str, names: list[str], keys: list[str] | None) -> Run:
    meter = Meter()
    api = runs_client.Api(base_url=url)
    api.client.http_client.event_hooks["response"] = [meter]
    with api:
        runs = api.runs(DEMO, filters={"name": {"$in": names}})
        return timed(
            lambda: runs.histories(keys=keys, format="pandas", progress=False), meter
        )


def demo_names(url: str) -> list[str]:
    with runs_client.Api(base_url=url) as api:
        return [r.id for r in api.runs(DEMO, per_page=1000, include_sweeps=False)]


def _values(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column's values; JSON-text columns (media, mixed types: our frames'
    ``attrs["json_columns"]``) decoded, as the official client holds them."""
    values: list[Any] = frame[name].tolist()
    if name in frame.attrs.get("json_columns", ()):
        return [None if v is None else json.loads(v) for v in values]
    return values


def same_frames(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for name in a.columns:
        x, y = _values(a, name), _values(b, name)
        for u, v in zip(x, y, strict=True):
            nu = u is None or (isinstance(u, float) and math.isnan(u))
            nv = v is None or (isinstance(v, float) and math.isnan(v))
            if not (nu and nv) and u != v:
                return False
    return True


# -- targets --------------------------------------------------------------------

# How each case reads in the README's table.
README_CASES = {
    "120 runs x 500 x 1 key, 30 ms": "120 runs x 500 samples x 1 key, 30 ms latency",
    "120 runs x 500 x 1 key, 0 ms": "120 runs x 500 samples x 1 key, 0 ms",
    "demo full rows, 30 ms": "whole demo project, full rows, 30 ms",
    "demo full rows, 0 ms": "whole demo project, full rows, 0 ms",
}
CPU_CASES = {
    True: "client CPU, strict `sampledHistory` page to pandas / `orjson.loads`",
    False: "client CPU, full-row page to pandas / stdlib parse of body and lines",
}


def readme_table(results: list[Result]) -> str:
    """The README's table of this run's figures (``make bench`` writes it)."""
    lines = [
        "| case (`make bench`, one run on a shared 2-core machine) | baseline "
        "| runs_client | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        sign = "" if r.higher_is_better else "<= "
        unit = "x"
        target = f"{sign}{r.target:g}{unit}"
        row = r.row or f"{r.name} | | "
        lines.append(f"| {row} | {r.value:.3g}{unit} | {target} |")
    return "\n".join(lines) + "\n"


@dataclass
class Result:
    name: str
    value: float
    target: float
    higher_is_better: bool = True
    row: str = ""  # the README table's case, baseline and runs_client cells

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.value >= self.target
        return self.value <= self.target

    def line(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        verdict = "met" if self.met else "MISSED"
        target = f"target {sign} {self.target:g}"
        return f"  {self.name:<72} {self.value:7.2f}  {target}  {verdict}"


def speed_case(
    url: str, latency: float, label: str, names: list[str], keys: list[str] | None,
    target: float, results: list[Result], rounds: int,
) -> None:  # fmt: skip
    best_ratio = 0.0
    best_cells = ""
    for _ in range(rounds):
        base = baseline(url, names, keys)
        mine = ours(url, names, keys)
        if not same_frames(base.frame, mine.frame):
            print(f"{label}: outputs differ; stopping", file=sys.stderr)
            sys.exit(1)
        ratio = base.wall / mine.wall
        if ratio > best_ratio:
            best_cells = f"{_cell(base)} | {_cell(mine)}"
        best_ratio = max(best_ratio, ratio)
        for who, r in (("baseline", base), ("runs_client", mine)):
            floor = r.meter.requests * latency / 1000 + r.meter.server_ms / 1000
            print(f"  {label:<34} {who:<12} wall {r.wall:7.3f}s  requests "
                  f"{r.meter.requests:4d}  server {r.meter.server_ms / 1000:6.3f}s  "
                  f"client cpu {r.cpu:6.3f}s  serial floor {floor:6.3f}s  "
                  f"rows {len(r.frame)}")  # fmt: skip
    case = README_CASES.get(label, label)
    results.append(
        Result(f"{label}: baseline / runs_client (best)", best_ratio, target,
               row=f"{case} | {best_cells}")
    )  # fmt: skip


def _cell(run: Run) -> str:
    requests = run.meter.requests
    return f"{run.wall:.3g} s, {requests} request{'s' if requests != 1 else ''}"


# -- client CPU: bytes -> pandas --------------------------------------------------


def strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return value


def cpu_case(
    url: str, keys: list[str] | None, results: list[Result], reps: int
) -> None:
    # One real page, captured from the server, then served from memory.
    captured: list[bytes] = []
    with runs_client.Api(base_url=url) as api:
        api.client.http_client.event_hooks["response"] = [
            lambda r: captured.append(r.read())
        ]
        api.runs(DEMO).histories(keys=keys, progress=False, rows_per_request=10**6)
    body = captured[0]
    if keys:  # a strict-JSON server's page: non-finite values as strings
        body = orjson.dumps(strict(json.loads(body)))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    api = runs_client.Api(base_url="http://mock")
    api.client.http_client._transport = transport

    def ours_once() -> float:
        t0 = time.process_time()
        api.runs(DEMO).histories(keys=keys, format="pandas", progress=False,
                                 rows_per_request=10**6)  # fmt: skip
        return time.process_time() - t0

    def floor_once() -> float:
        t0 = time.process_time()
        if keys:
            orjson.loads(body)
        else:
            data = json.loads(body)
            for edge in data["data"]["project"]["runs"]["edges"]:
                for line in edge["node"]["history"]:
                    json.loads(line)
        return time.process_time() - t0

    ratios = []
    for _ in range(reps):
        ratios.append(ours_once() / floor_once())
    ratios.sort()
    what = "strict sampledHistory page / orjson parse" if keys else (
        "full-row page / stdlib parse of body and lines")  # fmt: skip
    print(f"  page of {len(body) / 1e6:.1f} MB: ratios {[round(r, 2) for r in ratios]}")
    results.append(Result(f"client CPU bytes->pandas, {what}", ratios[len(ratios) // 2],
                          2.0, higher_is_better=False,
                          row=f"{CPU_CASES[bool(keys)]} | |"))  # fmt: skip
    api.close()


# -- memory ---------------------------------------------------------------------------


def build_store(path: Path, runs: int, steps: int) -> None:
    from runs_server.store import Store

    store = Store(str(path))
    store.users.create("bench", api_key="b" * 40)
    store.projects.create("bench", "mem")
    for i in range(runs):
        run = store.runs.add("bench/mem", f"m{i:05d}")
        store.history.log(
            run,
            [
                {"_step": s, "loss": 1 / (s + 1), "acc": s / steps, "lr": 0.1 * i}
                for s in range(steps)
            ],
            update_summary=False,
        )
    store.close()


def vm(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    return 0


def memory_child(url: str, samples: int) -> None:
    import polars  # noqa: F401  (imports before the baseline RSS)

    with runs_client.Api(base_url=url, api_key="b" * 40) as api:
        runs = api.runs("bench/mem")
        before = vm("VmRSS")
        frame = runs.histories(samples=samples, format="polars", progress=False)
        peak = vm("VmHWM")
    print(json.dumps({"growth": peak - before, "frame": frame.estimated_size(),
                      "rows": frame.height}))  # fmt: skip


def memory_case(results: list[Result], runs: int, steps: int) -> None:
    from runs_server.store.ddl import SCHEMA_VERSION

    # Keyed by the store's layout: a file of another layout is another file.
    name = f"runs_client_mem_{runs}x{steps}_v{SCHEMA_VERSION}.sqlite"
    path = Path(tempfile.gettempdir()) / name
    if not path.exists():
        print(f"  building {runs} runs x {steps} steps in {path} ...")
        build_store(path, runs, steps)
    with server(0, db=str(path)) as url:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", url, "--samples", str(steps)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {stats['rows']:,} rows: frame {stats['frame'] / 1e6:.1f} MB, peak RSS "
          f"growth {stats['growth'] / 1e6:.1f} MB")  # fmt: skip
    sizes = f"{stats['growth'] / 1e6:.0f} MB / {stats['frame'] / 1e6:.0f} MB"
    results.append(Result(f"{stats['rows']:,} numeric rows to polars: peak RSS / frame",
                          stats["growth"] / stats["frame"], 3.0, False,
                          row=f"{stats['rows']:,} numeric rows to polars: peak RSS "
                          f"growth / frame size | | {sizes}"))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, less data")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=5000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.samples)
        return 0
    rounds = 1 if args.quick else 3
    results: list[Result] = []
    for latency, t120, tdemo in ((30.0, 30.0, 20.0), (0.0, 5.0, 4.0)):
        print(f"\nserver --latency-ms {latency:g}")
        with server(latency) as url:
            names = demo_names(url)
            speed_case(url, latency, f"120 runs x 500 x 1 key, {latency:g} ms",
                       names[:120], ["loss"], t120, results, rounds)  # fmt: skip
            speed_case(url, latency, f"demo full rows, {latency:g} ms", names,
                       None, tdemo, results, rounds)  # fmt: skip
            if latency == 0:
                print("\nclient CPU")
                cpu_case(url, ["loss"], results, 3 if args.quick else 7)
                cpu_case(url, None, results, 3 if args.quick else 7)
    print("\nmemory")
    memory_case(results, 100 if args.quick else 200, 2000 if args.quick else 5000)
    print(
        "\nratio                                                         value  target"
    )
    for result in results:
        print(result.line())
    if not args.quick:  # the READMEs show full runs only
        for path in write_block("histories", readme_table(results)):
            print(f"wrote this run's figures into {path.relative_to(ROOT)}")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    # The demo server is open on loopback: no key at all (none from the env).
    os.environ.pop("WANDB_API_KEY", None)
    os.environ["NETRC"] = os.devnull
    sys.exit(main())
