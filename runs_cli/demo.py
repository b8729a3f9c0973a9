"""``runs-client demo``: the main job end to end against a local server.

Starts ``python -m runs_server --demo`` on a free loopback port (a child
process, so the server's threads do not compete with ours for the GIL), then
runs the command lines it prints (``DEMO_COMMANDS``, through the CLI's own
``main``), and stops the server however the demo ends (done, error, Ctrl-C,
SIGTERM).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rich.console import Console

from runs_cli.errors import EXIT_ERROR, CliError
from runs_cli.table import make_console

__all__ = ["DEMO_COMMANDS", "DEMO_PROJECT", "demo_server", "run_command", "run_demo"]

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


# What the demo runs, as a user would type it ({out}: the output folder). The
# README's tour shows these lines and their output; tests/cli/test_readme.py
# runs them and compares.
DEMO_COMMANDS = (
    "runs-client runs demo/mnist --where state=finished --order +summary.loss "
    "--limit 10 --columns lr,optimizer.name,summary.loss,summary.val.acc",
    "runs-client runs demo/mnist --format csv -o {out}/runs.csv",
    "runs-client histories demo/mnist --where state=finished --samples 200 "
    "-o {out}/histories.parquet",
    "runs-client plot demo/mnist --where state=finished --key loss "
    "--group-by optimizer.name --smooth 5 --samples 200 -o {out}/loss.png",
)
OUTPUTS = ("runs.csv", "histories.parquet", "loss.png")


Main = Callable[[list[str]], int]


def run_command(main: Main, line: str, url: str) -> None:
    """Run one command line of the demo with the CLI's ``main`` (passed in:
    ``main`` imports this module) against the server at ``url``."""
    code = main([*shlex.split(line)[1:], "--base-url", url])
    if code == 130:
        raise KeyboardInterrupt
    if code:
        raise CliError(f"the demo stopped at: {line}", exit_code=code)


def run_demo(output: Path, main: Main) -> None:
    """Write ``runs.csv``, ``histories.parquet`` and ``loss.png`` to ``output``,
    running each of ``DEMO_COMMANDS`` through ``main``."""
    console = make_console()
    output.mkdir(parents=True, exist_ok=True)
    folder = output.as_posix().rstrip("/")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # stop the server too
    try:
        with demo_server(console) as url:
            console.print(f"demo server at {url}; project {DEMO_PROJECT}")
            for line in DEMO_COMMANDS:
                text = line.format(out=folder)
                console.print(f"\n$ {text}", markup=False, soft_wrap=True)
                sys.stdout.flush()
                run_command(main, text, url)
    finally:
        signal.signal(signal.SIGTERM, previous)
    where = output.resolve()
    console.print(f"\ndone: the outputs are in {where}{os.sep}", markup=False)
    for name in OUTPUTS:
        console.print(f"  {where / name}", markup=False)
    console.print(
        "\nTo go on with the demo data, start a server that stays up:\n"
        "  .venv/bin/runs-client serve --demo --port 8080\n"
        "and follow what it prints (the line to copy sets WANDB_BASE_URL).",
        markup=False,
    )
