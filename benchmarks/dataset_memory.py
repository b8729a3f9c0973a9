"""Histories of 10^3 and 10^4 runs into a Parquet dataset partitioned by run
(``runs_client.write_history_dataset``, over ``iter_histories``): the
client's peak memory growth must stay flat in the number of runs.

Issue 20's target: 10^4 runs through ``iter_histories`` into a partitioned
Parquet dataset with flat memory. Each size runs in a fresh process (so one's
peak is not the other's): its RSS is read after the imports and the ``Api``
are made, its peak (``ru_maxrss``) after the dataset is written; the growth
is the difference. Target: the growth at 10^4 runs at most 1.5x the growth at
10^3 (ten times the rows). The dataset written is then read back whole with
``pyarrow.dataset`` and its row count checked.

A cached store (``$TMPDIR/runs_client_dataset_<runs>x<steps>_v<schema>.sqlite``,
written in one transaction) holds two projects, ``bench/ds1000`` and
``bench/ds10000``, of runs x 100 steps x 5 numeric keys, served by
``python -m runs_server --db`` in its own process. Exit status 1 on a miss;
the figures go into README.md (``bench:dataset``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from histories_speed import server
from readme_figures import ROOT, write_block

SIZES = (1_000, 10_000)
STEPS = 100
KEYS = ("loss", "acc", "lr", "grad_norm")
TARGET_GROWTH = 1.5  # growth at 10^4 runs against growth at 10^3


def build_store(path: Path) -> None:
    """Both projects in one transaction (see columnar_speed.build_store)."""
    from runs_server.store import Store

    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, *(Path(f"{partial}-{s}") for s in ("wal", "shm"))):
        leftover.unlink(missing_ok=True)
    store = Store(str(partial))
    store.users.create("bench", api_key="b" * 40)
    rng = np.random.default_rng(4)
    step = np.arange(STEPS)
    names = ("_step", *KEYS)
    with store.transaction():
        for size in SIZES:
            store.projects.create("bench", f"ds{size}")
            for i in range(size):
                noise = rng.random(STEPS)
                cols = (
                    (2.0 / (step + 1) + noise).tolist(),
                    noise.tolist(),
                    (0.1 * 0.99**step).tolist(),
                    (1.0 + noise).tolist(),
                )
                rows = [orjson.dumps(dict(zip(names, row, strict=True))).decode()
                        for row in zip(range(STEPS), *cols, strict=True)]  # fmt: skip
                run = store.runs.add(f"bench/ds{size}", f"r{i:06d}")
                store.history.log(run, rows, update_summary=False)
    store.close()
    partial.rename(path)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def child(url: str, project: str, out: str) -> None:
    """One export in this process; prints its figures as JSON."""
    import pyarrow.dataset  # noqa: F401  (imports before the baseline)

    import runs_client

    with runs_client.Api(base_url=url, api_key="b" * 40) as api:
        runs = api.runs(project, per_page=1000)
        base = rss_bytes()
        started = time.perf_counter()
        result = runs_client.write_history_dataset(runs, out, samples=STEPS,
                                                   progress=False)  # fmt: skip
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"growth": peak - base, "seconds": seconds, "rows": result.rows,
                      "files": result.files, "runs": result.runs}))  # fmt: skip


def measure(url: str, size: int, folder: Path) -> dict[str, float]:
    out = folder / f"ds{size}"
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, f"bench/ds{size}", str(out)],
        capture_output=True, text=True, check=True, timeout=1800,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    import pyarrow.dataset as ds

    read_back = ds.dataset(out, format="parquet", partitioning="hive").count_rows()
    if read_back != size * STEPS or figures["files"] != size:
        raise SystemExit(
            f"ds{size}: read back {read_back} rows, {figures['files']} files; "
            f"expected {size * STEPS}"
        )
    mib = figures["growth"] / 2**20
    print(
        f"{size:>6,} runs: {figures['rows']:,.0f} rows, {figures['files']:,.0f} "
        f"files in {figures['seconds']:.1f} s; peak RSS growth {mib:.1f} MiB"
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("URL", "PROJECT", "OUT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    from runs_server.store.ddl import SCHEMA_VERSION

    name = f"runs_client_dataset_{SIZES[-1]}x{STEPS}_v{SCHEMA_VERSION}.sqlite"
    path = Path(tempfile.gettempdir()) / name
    if not path.exists():
        print(f"building {' and '.join(map(str, SIZES))} runs x {STEPS} steps ...")
        build_store(path)
    with server(0, db=str(path)) as url, tempfile.TemporaryDirectory() as tmp:
        small, large = (measure(url, size, Path(tmp)) for size in SIZES)
    ratio = large["growth"] / max(small["growth"], 1)
    met = ratio <= TARGET_GROWTH
    print(f"growth at {SIZES[1]:,} runs / at {SIZES[0]:,}: {ratio:.2f}x "
          f"(target <= {TARGET_GROWTH:g}x) {'met' if met else 'MISSED'}")  # fmt: skip
    figures = (
        f"{SIZES[1]:,} runs x {STEPS} steps ({large['rows']:,.0f} rows, "
        f"{large['files']:,.0f} files) in {large['seconds']:.1f} s, peak RSS growth "
        f"{large['growth'] / 2**20:.0f} MiB; {SIZES[0]:,} runs "
        f"{small['growth'] / 2**20:.0f} MiB: {ratio:.2f}x for 10x the runs "
        f"(target {TARGET_GROWTH:g}x)."
    )
    for written in write_block("dataset", figures):
        print(f"wrote this run's figures into {written.relative_to(ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
