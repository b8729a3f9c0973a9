"""CLI tests: the ``runs-client`` command against ``runs_server`` on
127.0.0.1 (started here, stopped at the end).

``cli`` runs the command in this process (``runs_cli.main.main``, the console
script's target) as a fresh process would see it: the same cleaned
environment, working directory, non-terminal UTF-8 stdout and stderr, Python's
default warning filters and logging's last-resort handler. Spawning the
installed script costs about a second of imports per call; the tests about the
process itself (the console script, ``--debug`` tracebacks, ``serve``,
signals) still use ``run_cli``, which does.

The server holds the demo seed, ``test/exact`` (see tests/server/conftest.py)
and ``cli/mixed``, made here: a key logged as an int by one run and a float
by another, a key holding text in one run and numbers in another, and media.
"""

from __future__ import annotations

import io
import logging
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from runs_cli.main import main
from runs_server.store import Store
from tests.server.conftest import Live, start_live

MIXED = "cli/mixed"
RUNS_CLIENT = str(Path(sys.executable).parent / "runs-client")


def add_mixed_project(store: Store) -> None:
    store.users.create("cli", entity="cli")
    store.projects.create("cli", "mixed", created_at="2024-02-01T00:00:00")
    ints = store.runs.add(
        MIXED,
        "ints",
        config={"opt": "adam", "lr": 0.1},
        created_at="2024-02-01T00:00:01",
    )
    store.history.log(
        ints,
        [
            {"_step": s, "count": s * 2, "note": "n", "loss": 1.0 / (s + 1)}
            for s in range(6)
        ],
    )
    floats = store.runs.add(
        MIXED,
        "floats",
        config={"opt": "sgd", "lr": 0.01},
        created_at="2024-02-01T00:00:02",
    )
    rows: list[dict[str, object]] = [
        {"_step": s, "count": s + 0.5, "note": s, "loss": 2.0 / (s + 1)}
        for s in range(4)
    ]
    rows[1]["loss"] = math.nan
    rows[3]["img"] = {"_type": "image-file", "path": "media/a.png", "width": 4}
    store.history.log(floats, rows)
    third = store.runs.add(
        MIXED,
        "third",
        config={"opt": "adam", "lr": 0.1},
        created_at="2024-02-01T00:00:03",
    )
    store.history.log(
        third, [{"_step": s, "loss": 3.0 / (s + 1)} for s in range(0, 10, 2)]
    )


@pytest.fixture(scope="session")
def live() -> Iterator[Live]:
    live = start_live()
    add_mixed_project(live.store)
    yield live
    live.server.stop()
    live.store.close()


@dataclass
class Done:
    code: int
    out: str
    err: str


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WANDB_", "NETRC")) and k != "COLUMNS"
    }
    env["NETRC"] = os.devnull
    env.update(extra)
    return env


def run_cli(*args: str, url: str | None = None, cwd: Path | None = None) -> Done:
    """``runs-client ARGS`` with WANDB_BASE_URL=url and no retries (fast failures)."""
    env = clean_env(**({"WANDB_BASE_URL": url} if url else {}))
    done = subprocess.run(
        [RUNS_CLIENT, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    return Done(done.returncode, done.stdout, done.stderr)


@contextmanager
def _as_a_fresh_process(env: dict[str, str], cwd: Path | None) -> Iterator[None]:
    """os.environ, the working directory, warnings and logging as
    ``runs-client`` would find them in its own process; restored after."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    # No handler on the root logger: warnings go to logging.lastResort (stderr).
    root.handlers, root.level = [], logging.WARNING
    try:
        with warnings.catch_warnings():
            warnings.resetwarnings()  # Python's default filters, not pytest's
            for category in (
                DeprecationWarning,
                PendingDeprecationWarning,
                ImportWarning,
                ResourceWarning,
            ):
                warnings.simplefilter("ignore", category)
            warnings.simplefilter("default", append=True)
            warnings.showwarning = _show_warning
            yield
    finally:
        root.handlers, root.level = saved_handlers, saved_level
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _text_stream() -> io.TextIOWrapper:
    """Like a pipe's: UTF-8, not a terminal, with a binary buffer."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _read(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    text = buffer.getvalue().decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as text=True reads


def run_in_process(*args: str, url: str | None = None, cwd: Path | None = None) -> Done:
    """``run_cli`` without the process: ``main(ARGS)`` here, its output caught."""
    env = clean_env(**({"WANDB_BASE_URL": url} if url else {}))
    out, err = _text_stream(), _text_stream()
    with _as_a_fresh_process(env, cwd), redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return Done(code, _read(out), _read(err))


@pytest.fixture
def cli(live: Live) -> object:
    def call(*args: str, cwd: Path | None = None) -> Done:
        return run_in_process(*args, url=live.url, cwd=cwd)

    return call
