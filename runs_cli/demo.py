"""``runs-client demo``: the main job end to end against a local server.

Starts ``python -m runs_server --demo`` on a free loopback port (a child
process, so the server's threads do not compete with ours for the GIL), then
lists, exports and plots ``demo/mnist`` with the same functions the commands
use, and stops the server however the demo ends (done, error, Ctrl-C,
SIGTERM).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rich.console import Console

from runs_cli.errors import EXIT_ERROR, CliError
from runs_cli.table import make_console, write_frame
from runs_client import Api, runs_frame

__all__ = ["DEMO_PROJECT", "demo_server", "run_demo"]

DEMO_PROJECT = "demo/mnist"
START_TIMEOUT_S = 60.0
BANNER = "runs_server listening on "


@contextmanager
def demo_server(console: Console) -> Iterator[str]:
    """A demo server in a child process; yields its base URL, stops it after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "runs_server", "--demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console.print(f"started the demo server (pid {process.pid})", markup=False)
    try:
        yield _wait_for_url(process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        console.print(f"stopped the demo server (pid {process.pid})", markup=False)


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break  # the server exited
        seen.append(line.rstrip())
        if line.startswith(BANNER):
            return line.removeprefix(BANNER).split()[0]
    said = seen[-1] if seen else "no output"
    raise CliError(
        f"the demo server did not start ({said}); run 'runs-client serve --demo' "
        "to see why.",
        exit_code=EXIT_ERROR,
    )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_demo(output: Path) -> None:
    """Write ``runs.csv``, ``histories.parquet`` and ``loss.png`` to ``output``."""
    from runs_cli.commands import export, plot, show_runs

    console = make_console()
    output.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # stop the server too
    try:
        with demo_server(console) as url, Api(base_url=url) as api:
            console.print(f"demo server at {url}; project {DEMO_PROJECT}\n")
            finished = {"state": "finished"}
            console.print(
                "$ runs-client runs demo/mnist --where state=finished "
                "--order +summary.loss --limit 10 "
                "--columns lr,optimizer.name,summary.loss,summary.val.acc",
                markup=False,
                soft_wrap=True,
            )
            show_runs(
                api,
                DEMO_PROJECT,
                filters=finished,
                order="+summary_metrics.loss",
                limit=10,
                columns=["lr", "optimizer.name", "summary.loss", "summary.val.acc"],
                console=console,
            )
            runs_csv = output / "runs.csv"
            write_frame(
                runs_frame(api.runs(DEMO_PROJECT, per_page=500)), "csv", runs_csv
            )
            console.print(f"wrote {runs_csv} (every run, config and summary)\n")
            parquet = output / "histories.parquet"
            console.print(
                f"$ runs-client histories demo/mnist --where state=finished "
                f"--samples 200 -o {parquet}",
                markup=False,
                soft_wrap=True,
            )
            export(
                api,
                DEMO_PROJECT,
                str(parquet),
                filters=finished,
                samples=200,
                console=console,
            )
            png = output / "loss.png"
            console.print(
                f"\n$ runs-client plot demo/mnist --where state=finished --key loss "
                f"--group-by optimizer.name --smooth 5 -o {png}",
                markup=False,
                soft_wrap=True,
            )
            plot(
                api,
                DEMO_PROJECT,
                str(png),
                key="loss",
                group_by="optimizer.name",
                smooth=5,
                samples=200,
                filters=finished,
                console=console,
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
    where = output.resolve()
    console.print(f"\ndone: the outputs are in {where}{os.sep}", markup=False)
    for name in ("runs.csv", "histories.parquet", "loss.png"):
        console.print(f"  {where / name}", markup=False)
