"""The official SDK logging into runs_server against logging offline.

Run ``.venv/bin/python benchmarks/sdk_logging.py``. Target: a 20,000-step
``wandb.log`` loop of 5 keys with SDK 0.31 (``.venv-sdk31``), timed from
``wandb.init`` to the end of ``run.finish()``, online against runs_server (in
its own process, on a fresh store file) takes at most 1.3x the same loop with
``mode="offline"`` (the SDK's own floor on this machine: no network at all).
Each mode runs ``--repeats`` times, alternating (an offline run, then an
online one: a pair runs under about the same load). The target holds for the
median of the pairs' ratios; the ratio of each mode's best (shortest) time is
printed beside it (other load only ever adds time). The online runs' rows are
counted on the server before any ratio is printed.
Exit status 1 on a miss.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from histories_speed import free_port
from readme_figures import write_block

ROOT = Path(__file__).resolve().parents[1]
SDK_PYTHON = Path(
    os.environ.get("RUNS_SDK31_PYTHON", ROOT / ".venv-sdk31" / "bin" / "python")
)
TARGET_RATIO = 1.3
KEY = "k" * 40

# Runs in the SDK's interpreter; prints the seconds from init to finish.
LOOP = """
import json, sys, time
import wandb
mode, steps, run_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
run = wandb.init(project="bench", id=run_id, mode=mode,
                 settings=wandb.Settings(console="off", save_code=False))
for i in range(steps):
    run.log({"loss": 1 / (i + 1), "acc": i / steps, "lr": 0.1, "epoch": i // 100,
             "grad": (i % 7) / 7})
run.finish()
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def timed_run(
    mode: str, steps: int, run_id: str, url: str, home: Path
) -> tuple[float, float]:
    """Wall seconds from init to finish, and CPU seconds of the SDK's
    processes (its interpreter and wandb-core, which it waits for)."""
    env = {
        **os.environ,
        "WANDB_BASE_URL": url,
        "WANDB_API_KEY": KEY,
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(home),
        "WANDB_CONFIG_DIR": str(home / "config"),
        "WANDB_CACHE_DIR": str(home / "cache"),
        "WANDB_DATA_DIR": str(home / "data"),
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_X_DISABLE_STATS": "true",
        "WANDB_X_DISABLE_META": "true",
        "HOME": str(home),
    }
    for name in ("WANDB_ENTITY", "WANDB_PROJECT", "WANDB_MODE"):
        env.pop(name, None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [str(SDK_PYTHON), "-c", LOOP, mode, str(steps), run_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the SDK failed ({mode}): {result.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    seconds: float = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    return seconds, cpu


@contextlib.contextmanager
def server(db: str) -> Iterator[tuple[str, int]]:
    """runs_server in its own process on ``db``: its URL and process id."""
    port = free_port()
    args = [sys.executable, "-m", "runs_server", "--port", str(port), "--db", db]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("runs_server did not start") from None
                time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def logged_rows(url: str, run_id: str) -> int:
    query = """query($run: String!) { project(name: "bench", entityName: "demo") {
        run(name: $run) { historyLineCount state } } }"""
    body = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": {"run": run_id}}
    ).json()
    run = body["data"]["project"]["run"]
    return int(run["historyLineCount"]) if run and run["state"] == "finished" else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if not SDK_PYTHON.exists():
        print(f"{SDK_PYTHON} is missing: run `make sdk31-venv`", file=sys.stderr)
        return 1
    times: dict[str, list[float]] = {"offline": [], "online": []}
    cpus: dict[str, list[float]] = {"offline": [], "online": []}
    with tempfile.TemporaryDirectory() as tmp, server(f"{tmp}/runs.db") as (url, pid):
        for i in range(args.repeats):
            for mode in ("offline", "online"):
                home = Path(tmp) / f"{mode}{i}"
                home.mkdir()
                run_id = f"{mode}{i}"
                served = cpu_seconds(pid)
                wall, cpu = timed_run(mode, args.steps, run_id, url, home)
                times[mode].append(wall)
                cpus[mode].append(cpu + cpu_seconds(pid) - served)
                if mode == "online" and logged_rows(url, run_id) != args.steps:
                    print(f"run {run_id} lacks rows on the server", file=sys.stderr)
                    return 1
    offline, online = min(times["offline"]), min(times["online"])
    pairs = [b / a for a, b in zip(times["offline"], times["online"], strict=True)]
    ratio = statistics.median(pairs)
    best_ratio = online / offline
    cpu_ratio = statistics.median(
        b / a for a, b in zip(cpus["offline"], cpus["online"], strict=True)
    )
    print(
        f"SDK 0.31, {args.steps:,} wandb.log steps of 5 keys, init to finish, "
        f"{args.repeats} pairs:"
    )
    for mode, label in (
        ("offline", "offline (the SDK's floor)"),
        ("online", "online, runs_server"),
    ):
        every = ", ".join(f"{t:.2f}" for t in times[mode])
        print(
            f"  {label:26s} best {min(times[mode]):6.2f} s wall, "
            f"{min(cpus[mode]):6.2f} s CPU   (each wall: {every})"
        )
    print(f"  pairs' ratios: {', '.join(f'{r:.2f}' for r in pairs)}")
    print(
        f"  ratio {ratio:4.2f}x wall, median of pairs   (target <= {TARGET_RATIO:g}x)"
    )
    print(f"  ratio {best_ratio:4.2f}x wall, best against best")
    print(
        f"  ratio {cpu_ratio:4.2f}x CPU, median (SDK and wandb-core, plus the server)"
    )
    if args.steps == 20_000:  # the READMEs quote the default run
        figures = (
            f"{ratio:.2f}x (median of {args.repeats} pairs; best against best "
            f"{best_ratio:.2f}x: {online:.2f} s online, {offline:.2f} s offline; "
            f"CPU {cpu_ratio:.2f}x; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores)."
        )
        for path in write_block("sdk_logging", figures):
            print(f"wrote this run's figures into {path.relative_to(ROOT)}")
    if ratio > TARGET_RATIO:
        print("MISSED: SDK logging ratio", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
