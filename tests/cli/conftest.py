"""CLI tests: the installed ``runs-client`` command, run as a subprocess
against ``runs_server`` on 127.0.0.1 (started here, stopped at the end).

The server holds the demo seed, ``test/exact`` (see tests/server/conftest.py)
and ``cli/mixed``, made here: a key logged as an int by one run and a float
by another, a key holding text in one run and numbers in another, and media.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


@pytest.fixture
def cli(live: Live) -> object:
    def call(*args: str, cwd: Path | None = None) -> Done:
        return run_cli(*args, url=live.url, cwd=cwd)

    return call
