"""A mirror that fails part-way keeps whole pages, and a bad listing or a
full disk stops it with one line, never a loop or a traceback."""

from __future__ import annotations

import copy as copying
from pathlib import Path
from typing import Any

import pytest

from runs_client import ServerError
from runs_client.transport.page_guard import DuplicateItemWarning
from runs_mirror import mirror_project, write
from runs_mirror import source as source_module
from runs_server.store import Store
from tests.cli.conftest import run_in_process
from tests.mirror.conftest import Source, snapshot
from tests.store_faults import disk_full_after

pytestmark = pytest.mark.e2e

DEMO = "demo/mnist"
EXACT = "test/exact"


def _held(store: Store) -> tuple[int, int, int]:
    """(runs, history rows, event rows) in the copy."""
    return tuple(  # type: ignore[return-value]
        store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("runs", "history", "events")
    )


def test_a_write_failing_in_the_middle_of_a_page_keeps_nothing_of_it(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = write.write_first
    written: list[str] = []

    def fails_on_the_fourth(store: Store, path: str, node: Any, **kw: Any) -> Any:
        if len(written) == 3:
            raise RuntimeError("planted: the fourth run's write fails")
        written.append(node["name"])
        return real(store, path, node, **kw)

    monkeypatch.setattr(write, "write_first", fails_on_the_fourth)
    copy = Store()
    with source.api() as api, pytest.raises(RuntimeError, match="planted"):
        mirror_project(api, DEMO, copy)
    assert len(written) == 3  # three runs of the page were written, then undone
    assert _held(copy) == (0, 0, 0)
    monkeypatch.setattr(write, "write_first", real)
    with source.api() as api:
        mirror_project(api, DEMO, copy)
    assert snapshot(copy, DEMO) == snapshot(source.store, DEMO)


def test_a_full_disk_stops_the_mirror_in_one_line_and_a_rerun_completes(
    source: Source, tmp_path: Path
) -> None:
    db = tmp_path / "copy.db"
    Store(db).close()
    args = ["mirror", DEMO, "--db", str(db), "--api-key", source.key]
    # The demo mirrors in two pages of ~5,000 and ~4,300 SQLite pages: the first fits.
    with disk_full_after(pages=6_500):
        done = run_in_process(*args, url=source.url)
    assert done.code == 1
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert f"{db} is full" in done.err and "mirroring again goes on" in done.err
    want = snapshot(source.store, DEMO)["runs"]
    with Store(db) as copy:
        kept = snapshot(copy, DEMO)["runs"]
    assert 0 < len(kept) < len(want)  # whole runs only, each as the source has it
    assert all(run == want[name] for name, run in kept.items())
    again = run_in_process(*args, url=source.url)
    assert again.code == 0, again.err
    with Store(db) as copy:
        assert snapshot(copy, DEMO)["runs"] == want


def _patched_listing(
    monkeypatch: pytest.MonkeyPatch, change: Any, most: int = 20
) -> list[str]:
    """Pass each MirrorRunStates answer through ``change`` (the server is
    always asked for the first page); at most ``most`` listing requests (a
    broken guard fails here instead of looping)."""
    real = source_module.Source._post
    calls: list[str] = []

    def post(self: Any, text: str, operation: str, variables: Any) -> Any:
        if operation != "MirrorRunStates":
            return real(self, text, operation, variables)
        data = real(self, text, operation, {**variables, "cursor": None})
        calls.append(operation)
        assert len(calls) <= most, "the listing did not stop"
        return change(data, len(calls))

    monkeypatch.setattr(source_module.Source, "_post", post)
    return calls


def test_a_run_listed_twice_is_copied_once_with_a_warning(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    def twice(data: Any, _call: int) -> Any:
        edges = data["project"]["runs"]["edges"]
        edges.append(copying.deepcopy(edges[0]))
        return data

    _patched_listing(monkeypatch, twice)
    copy = Store()
    with source.api() as api, pytest.warns(DuplicateItemWarning, match="kept once"):
        summary = mirror_project(api, EXACT, copy)
    assert snapshot(copy, EXACT) == snapshot(source.store, EXACT)
    assert summary.new == 3


def test_a_listing_that_repeats_itself_under_fresh_cursors_is_refused(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    def endless(data: Any, call: int) -> Any:
        page = data["project"]["runs"]["pageInfo"]
        page["hasNextPage"], page["endCursor"] = True, f"fresh-{call}"
        return data

    calls = _patched_listing(monkeypatch, endless)
    copy = Store()
    with source.api() as api, pytest.raises(ServerError, match="sent before"):
        mirror_project(api, EXACT, copy)
    assert len(calls) == 2
    assert _held(copy) == (0, 0, 0)
