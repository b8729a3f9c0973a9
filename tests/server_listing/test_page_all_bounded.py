"""``page_all`` fails fast when the cursor stops advancing (it hung before)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.server_listing import conftest
from tests.server_listing.conftest import insert_run, page_all


def test_page_all_fails_fast_on_a_cursor_that_does_not_advance(
    db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        insert_run(db, {"name": f"r{i}"})
    calls: list[str | None] = []

    def stuck(
        conn: sqlite3.Connection,
        filters: str | None,
        order: str | None,
        after: str | None,
        per_page: int,
    ) -> tuple[list[str], str | None]:
        calls.append(after)
        # A broken guard must fail here, not hang the suite.
        assert len(calls) < 1000, "page_all kept asking"
        return ["r0"], "the same cursor"

    monkeypatch.setattr(conftest, "fetch_page", stuck)
    with pytest.raises(AssertionError, match="does not advance"):
        page_all(db, per_page=2)
    assert len(calls) == 5 // 2 + 2
