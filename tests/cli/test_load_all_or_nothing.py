"""``runs-client load`` changes the store all or nothing.

A bad line, a full disk or a ``kill -9`` part-way leaves the store as it
was (one line says so), and loading the fixed file then works.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from runs_server.store import Store
from tests.cli.conftest import RUNS_CLIENT, clean_env, run_cli, run_in_process
from tests.store_faults import disk_full_after

pytestmark = pytest.mark.e2e


def _lines(runs: int, rows: int = 50) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [{"type": "project", "entity": "me", "name": "mine"}]
    for i in range(runs):
        history = [{"_step": s, "loss": 1.0 / (s + 1)} for s in range(rows)]
        lines.append(
            {"type": "run", "project": "me/mine", "name": f"r{i}", "history": history}
        )
    return lines


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _held(db: Path) -> tuple[int, int, int]:
    """(projects, runs, history rows) in the store file."""
    with Store(db) as store:
        return tuple(  # type: ignore[return-value]
            store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("projects", "runs", "history")
        )


def test_a_bad_third_line_loads_nothing_and_the_fixed_file_loads(
    tmp_path: Path,
) -> None:
    lines = _lines(2)
    # Line 3 logs steps out of order after the run's own history.
    bad = [*lines[:2], {**lines[2], "history": [{"_step": 5}, {"_step": 1}]}]
    db = tmp_path / "mine.db"
    done = run_in_process(
        "load", str(_write(tmp_path / "bad.jsonl", bad)), "--db", str(db)
    )
    assert done.code == 2
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert ": line 3: " in done.err and "nothing was loaded" in done.err
    assert _held(db) == (0, 0, 0)  # not even the project of line 1

    fixed = run_in_process(
        "load", str(_write(tmp_path / "fixed.jsonl", lines)), "--db", str(db)
    )
    assert fixed.code == 0, fixed.err
    assert _held(db) == (1, 2, 100)


def test_a_full_disk_loads_nothing_and_says_what_is_full(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    Store(db).close()
    source = _write(tmp_path / "big.jsonl", _lines(40, rows=200))
    with disk_full_after(pages=20):
        done = run_in_process("load", str(source), "--db", str(db))
    assert done.code == 2
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert f"{db} is full" in done.err and "nothing was loaded" in done.err
    assert "line" not in done.err  # no line is at fault: no "fix that line"
    assert _held(db) == (0, 0, 0)

    again = run_in_process("load", str(source), "--db", str(db))
    assert again.code == 0, again.err
    assert _held(db) == (1, 40, 8000)


def _blocked_reading_a_pipe(pid: int) -> bool:
    # pipe_read, anon_pipe_read or pipe_wait, by kernel version
    return "pipe_" in Path(f"/proc/{pid}/wchan").read_text()


@pytest.mark.skipif(
    not Path("/proc/self/wchan").exists(), reason="needs Linux's /proc/PID/wchan"
)
def test_a_load_killed_part_way_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    lines = _lines(30)
    db = tmp_path / "mine.db"
    load = subprocess.Popen(
        [RUNS_CLIENT, "load", "/dev/stdin", "--db", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    try:
        assert load.stdin is not None
        # The first 21 lines (the project, 20 runs), then the load waits for
        # more: once it blocks on the empty pipe it has applied every one.
        load.stdin.write(
            "".join(json.dumps(line) + "\n" for line in lines[:21]).encode()
        )
        load.stdin.flush()
        deadline = time.monotonic() + 60
        while not _blocked_reading_a_pipe(load.pid):
            assert load.poll() is None, "the load ended before it was killed"
            assert time.monotonic() < deadline, "the load never read its input"
            time.sleep(0.01)
        os.kill(load.pid, signal.SIGKILL)
        assert load.wait(timeout=10) == -signal.SIGKILL
    finally:
        if load.poll() is None:
            load.kill()
            load.wait(timeout=10)
    assert _held(db) == (0, 0, 0)

    whole = run_in_process(
        "load", str(_write(tmp_path / "all.jsonl", lines)), "--db", str(db)
    )
    assert whole.code == 0, whole.err
    assert _held(db) == (1, 30, 1500)


def test_serve_loads_every_file_or_none(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.jsonl", _lines(2))
    more = [{**line, "name": f"m{i}"} for i, line in enumerate(_lines(3)[1:])]
    bad = _write(tmp_path / "bad.jsonl", [*more, {"type": "nonsense"}])
    db = tmp_path / "served.db"
    done = run_cli(
        "serve", "--port", "0", "--db", str(db), "--load", str(good), "--load", str(bad)
    )
    assert done.code == 2
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert f"{bad}: line 4:" in done.err and "nothing was loaded" in done.err
    assert _held(db) == (0, 0, 0)  # not even good.jsonl
