"""One store file, several processes: seeding is atomic, starts do not race,
and a file this process cannot write is served read-only.

The servers here are ``python -m runs_server`` processes (their kill and
their concurrent start on one file are the point); every wait has a deadline.
"""

from __future__ import annotations

import hashlib
import os
import re
import selectors
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

import runs_client
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.loaders.demo import DEMO_RUNS, seed_demo
from runs_server.store import Store, StoreWriteError, database
from tests.demo_seed import seed_demo_copy
from tests.server.conftest import EXACT, TESTER_KEY, add_exact_project
from tests.store_faults import disk_full_after, wait_for_write_lock

pytestmark = pytest.mark.e2e

DEADLINE_S = 120


def _start(db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "runs_server", "--db", str(db), "--demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        bufsize=0,
    )


def _banner(process: subprocess.Popen[bytes]) -> list[str]:
    """Lines up to the one naming the demo (or the exit), within the deadline."""
    assert process.stdout is not None
    text = b""
    deadline = time.monotonic() + DEADLINE_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        # The whole line: it may arrive in pieces.
        while not re.search(rb"demo project:[^\n]*\n", text):
            left = deadline - time.monotonic()
            assert left > 0, f"no banner in {DEADLINE_S} s: {text!r}"
            if not selector.select(left):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break  # exited
            text += chunk
    return text.decode().splitlines(keepends=True)


@contextmanager
def _servers(db: Path, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            process = _start(db)
            stack.callback(_stop, process)
            started.append(process)
        yield started


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    if process.stdout is not None:
        process.stdout.close()


def _demo_rows(store: Store) -> dict[str, tuple[int, int]]:
    """Each demo run's (history rows, event rows), by name."""
    return {
        str(r[0]): (int(r[1]), int(r[2]))
        for r in store.conn.execute(
            "SELECT runs.name, "
            "(SELECT count(*) FROM history WHERE run_id=runs.id), "
            "(SELECT count(*) FROM events WHERE run_id=runs.id) "
            "FROM runs JOIN projects ON projects.id=runs.project_id "
            "WHERE projects.name IN ('mnist', 'secret')"
        )
    }


@pytest.fixture(scope="module")
def whole_demo() -> dict[str, tuple[int, int]]:
    with Store() as store:
        seed_demo_copy(store)
        return _demo_rows(store)


def _schema_written(db: Path) -> bool:
    if not db.exists():
        return False
    conn = sqlite3.connect(db, timeout=0)
    try:
        conn.execute("SELECT value FROM meta").fetchall()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def test_a_demo_seed_killed_part_way_is_whole_after_a_restart(
    tmp_path: Path, whole_demo: dict[str, tuple[int, int]]
) -> None:
    db = tmp_path / "demo.db"
    first = _start(db)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not _schema_written(db):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        wait_for_write_lock(db, seconds=DEADLINE_S)  # the seed is under way
        first.kill()
        first.wait(timeout=15)
    finally:
        _stop(first)
    with _servers(db, 1) as (again,):
        lines = _banner(again)
        assert f"demo project: demo/mnist ({DEMO_RUNS} runs)\n" in lines, lines
    with Store(db) as store:
        assert _demo_rows(store) == whole_demo


def test_two_servers_started_at_once_on_one_new_file_both_serve_the_demo(
    tmp_path: Path, whole_demo: dict[str, tuple[int, int]]
) -> None:
    db = tmp_path / "shared.db"
    with _servers(db, 2) as both:
        banners = [_banner(process) for process in both]
        for lines in banners:
            assert f"demo project: demo/mnist ({DEMO_RUNS} runs)\n" in lines, lines
            url = lines[0].split("listening on ")[1].split()[0]
            with runs_client.Api(base_url=url, api_key="k" * 40) as api:
                assert len(api.runs("demo/mnist")) == DEMO_RUNS
    with Store(db) as store:
        assert _demo_rows(store) == whole_demo


def test_stores_opened_at_once_on_new_files_all_open(tmp_path: Path) -> None:
    # Threads stand in for processes: each Store has its own connection.
    for attempt in range(20):
        path = tmp_path / f"new{attempt}.db"
        start = threading.Barrier(8, timeout=60)
        failures: list[BaseException] = []

        def open_one(
            path: Path = path,
            start: threading.Barrier = start,
            failed: list[BaseException] = failures,
        ) -> None:
            start.wait()
            try:
                Store(path).close()
            except Exception as exc:
                failed.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert failures == []
        with Store(path) as store:
            assert store.conn.execute("SELECT count(*) FROM meta").fetchone()[0] == 1


def test_a_partial_demo_of_an_older_version_is_completed(
    whole_demo: dict[str, tuple[int, int]],
) -> None:
    with Store() as store:
        seed_demo(store)
        # What an older server killed while seeding left: no mark, runs
        # missing, a run without its events, one without its last rows.
        conn = store.conn
        conn.execute("DELETE FROM meta WHERE key='demo_seed'")
        ids = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY id DESC")]
        for run in ids[:100]:
            store.runs.delete(run)
        conn.execute("DELETE FROM events WHERE run_id=?", (ids[150],))
        store.history.clear(ids[200], events=False)
        info = seed_demo(store)
        assert info.seeded and _demo_rows(store) == whole_demo
        assert not seed_demo(store).seeded  # marked whole now


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_this_process_cannot_write_is_served_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "kept.db"
    with Store(db) as store:
        add_exact_project(store)
    before = _digest(db)
    # Root writes any file, so "cannot write" is patched in; the store still
    # opens the file with mode=ro, which refuses writes for everyone.
    monkeypatch.setattr(database, "writable", lambda path: False)
    with Store(db) as store:
        assert store.read_only
        server = BackgroundServer(RunsServerApp(store)).start()
        try:
            with runs_client.Api(base_url=server.url, api_key=TESTER_KEY) as api:
                runs = api.runs(EXACT)
                assert len(runs) == 3
                frame = runs.histories(samples=1000, format="pandas")
                assert len(frame) > 0
        finally:
            server.stop()
        with pytest.raises(StoreWriteError, match="read-only"):
            store.set_meta("written", "yes")
    assert _digest(db) == before


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` made unwritable for this process: mode 0444, and for root,
    who writes any mode, the immutable attribute as well (``chattr +i``,
    which needs CAP_LINUX_IMMUTABLE and a filesystem that keeps it: a
    container without them skips, saying so)."""
    path.chmod(0o444)
    if os.geteuid() != 0:
        yield
        return
    chattr = shutil.which("chattr")
    made = (
        subprocess.run(
            [chattr, "+i", str(path)], capture_output=True, text=True, timeout=30
        )
        if chattr
        else None
    )
    if made is None or made.returncode != 0:
        why = made.stderr.strip() if made else "chattr is not installed"
        pytest.skip(f"root writes a 0444 file, and chattr +i failed: {why}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True, timeout=30)


def test_a_read_only_file_opens_read_only(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    with Store(db) as store:
        add_exact_project(store)
    before = _digest(db)
    with unwritable(db):
        assert not os.access(db, os.W_OK)  # for root too: the file is immutable
        with Store(db) as store:
            assert store.read_only and store.projects.find("test", "exact") is not None
            with pytest.raises(StoreWriteError, match="read-only"):
                store.set_meta("written", "yes")
    assert _digest(db) == before


def test_a_full_disk_while_seeding_leaves_no_demo_and_says_so(
    tmp_path: Path, whole_demo: dict[str, tuple[int, int]]
) -> None:
    db = tmp_path / "full.db"
    Store(db).close()
    with disk_full_after(pages=500), Store(db) as store:
        with pytest.raises(StoreWriteError, match=f"{db} is full"):
            seed_demo(store)
        assert _demo_rows(store) == {}
        assert store.get_meta("demo_seed") is None
    with Store(db) as store:
        assert seed_demo(store).seeded and _demo_rows(store) == whole_demo
