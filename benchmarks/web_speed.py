"""The web pages' speed in headless Chromium against the issue's targets.

Run ``.venv/bin/python benchmarks/web_speed.py`` (needs ``chromium`` and
``chromium-driver``). Two pages of a store built here:

* the runs table of ``bench/web``, 5,000 runs (each with 8 config and 6
  summary values): target, its first page painted within 1 s;
* the run page of one run with 5 keys x 100,000 steps: target, every chart
  drawn within 1.5 s.

The time is the page's own: from navigation start to the frame after the
page marked itself ready (``window.runsWebPaintedMs``), so it holds loading
the scripts, the GraphQL requests and server time, building the table or the
charts, and painting. Each page is loaded ``--repeats`` times in one browser
(the first load is reported apart: a cold cache); the median is compared to
the target. Like the other benchmarks it prints and never fails on times.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from browser import chromium, console_errors, wait_for
from readme_figures import ROOT, write_block
from selenium.webdriver import Chrome

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

ENTITY, PROJECT = "bench", "web"
TABLE_TARGET_MS = 1000.0
RUN_TARGET_MS = 1500.0
READY = "window.runsWebPaintedMs || document.body.dataset.state === 'error'"


def build(store: Store, runs: int, steps: int) -> str:
    """``runs`` light runs and one run of 5 keys x ``steps``; that run's id."""
    store.users.create("bench", entity=ENTITY)
    store.projects.create(ENTITY, PROJECT)
    for i in range(runs):
        store.runs.add(
            f"{ENTITY}/{PROJECT}",
            f"run{i:05d}",
            display_name=f"bench-run-{i}",
            state=("finished", "crashed", "running")[i % 3],
            config={
                "lr": {"value": 10 ** -(1 + i % 4)},
                "batch": {"value": 2 ** (4 + i % 4)},
                "seed": {"value": i},
                "opt": {"value": ("adam", "sgd")[i % 2]},
                "depth": {"value": i % 12},
                "width": {"value": 64 * (1 + i % 4)},
                "dropout": {"value": (i % 5) / 10},
                "warmup": {"value": i % 1000},
            },
            summary={
                "loss": 1 / (1 + i),
                "acc": (i % 100) / 100,
                "val_loss": 1.5 / (1 + i),
                "val_acc": (i % 90) / 100,
                "epoch": i % 20,
                "grad_norm": (i % 7) / 3,
            },
            tags=["bench", f"t{i % 10}"],
            created_at=f"2024-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}",
        )
    big = store.runs.add(f"{ENTITY}/{PROJECT}", "bigrun", display_name="big-run")
    store.history.log(
        big,
        (
            {
                "_step": s,
                "_runtime": s * 0.01,
                "_timestamp": 1.7e9 + s * 0.01,
                "loss": math.exp(-s / 30000) + (s % 97) / 1000,
                "acc": 1 - math.exp(-s / 25000),
                "lr": 0.1 * 0.5 ** (s // 20000),
                "grad_norm": 1 + (s % 13) / 10,
                "throughput": 900 + (s % 50),
            }
            for s in range(steps)
        ),
    )
    return "bigrun"


def measure(driver: Chrome, url: str, repeats: int) -> tuple[float, list[float]]:
    """The cold load's time and the warm loads' times, in ms."""
    times = []
    for _ in range(repeats + 1):
        driver.get(url)
        wait_for(driver, READY, timeout_s=60)
        state = driver.execute_script("return document.body.dataset.state")
        if state != "ready":
            raise SystemExit(f"{url} did not load: {state}")
        times.append(float(driver.execute_script("return window.runsWebPaintedMs")))
    return times[0], times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    store = Store()
    started = time.perf_counter()
    big = build(store, args.runs, args.steps)
    print(
        f"store: {args.runs:,} runs + 1 run of 5 keys x {args.steps:,} steps, "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    app = RunsServerApp(store, ServerConfig())
    with BackgroundServer(app) as server, chromium(1400, 900) as driver:
        cases = (
            (
                "runs table, first page",
                f"{server.url}/{ENTITY}/{PROJECT}",
                TABLE_TARGET_MS,
            ),
            (
                "run page, 5 charts",
                f"{server.url}/{ENTITY}/{PROJECT}/runs/{big}",
                RUN_TARGET_MS,
            ),
        )
        figures, missed = [], False
        for label, url, target in cases:
            cold, warm = measure(driver, url, args.repeats)
            median = statistics.median(warm)
            verdict = "within" if median <= target else "OVER"
            missed |= median > target
            figures.append(
                f"{label}: median {median:,.0f} ms over {len(warm)} loads "
                f"(min {min(warm):,.0f}, max {max(warm):,.0f}; cold {cold:,.0f}); "
                f"target {target:,.0f} ms: {verdict}"
            )
            print(figures[-1])
        charts = driver.execute_script("return window.runsWebCharts")
        points = {key: chart["points"] for key, chart in charts.items()}
        print(f"run page charts (points drawn per key): {points}")
        errors = console_errors(driver)
        if errors:
            raise SystemExit(f"the pages logged errors: {errors}")
    store.close()
    if (args.runs, args.steps) == (5000, 100_000):  # the sizes only
        text = "On this machine (2 cores, shared): " + "; ".join(figures) + "."
        for path in write_block("web", text):
            print(f"wrote this run's figures into {path.relative_to(ROOT)}")
    if missed:
        raise SystemExit("MISSED: a page painted later than its target")


if __name__ == "__main__":
    main()
