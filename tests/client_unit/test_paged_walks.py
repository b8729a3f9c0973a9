"""One guard for every paged walk: a pager that answers the same page under
fresh cursors is refused after one repeat, and an item listed twice is kept
once with a warning (runs, projects, the per-run fallback's run listing,
bulk history pages). Every mock is bounded: a broken guard fails fast."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

import runs_client
from runs_client import ServerError
from runs_client.runs import Runs
from runs_client.transport.page_guard import DuplicateItemWarning, PageGuard
from runs_client.transport.retrying import RetryingClient
from tests.client_unit.runs_fake_server import (  # noqa: F401  (fixtures)
    ENTITY,
    PROJECT,
    URL,
    FakeWandb,
    fake_fixture,
    make_run,
)

FAKE = "http://fake.test"
MOCK_BOUND = 50  # answers any mock here gives before it fails the test


@pytest.fixture
def client() -> Iterator[RetryingClient]:
    with httpx.Client() as http:
        yield RetryingClient(URL, http, max_retries=0, sleep=lambda _: None)


def seed(fake: FakeWandb, n: int) -> list[str]:
    names = [f"r{i:02d}" for i in range(n)]
    fake.runs = [make_run(name) for name in names]
    fake.history = {name: ['{"_step": 0, "loss": 1.0}'] for name in names}
    return names


def bounded(pages: Iterator[dict[str, Any]]) -> Iterator[httpx.Response]:
    for _ in range(MOCK_BOUND):
        yield httpx.Response(200, json=next(pages))
    raise AssertionError(f"the client sent over {MOCK_BOUND} requests")


def project_page(ids: list[str], cursor: str, has_next: bool) -> dict[str, Any]:
    edges = [
        {
            "node": {
                "id": i,
                "name": f"p-{i}",
                "entityName": "e",
                "createdAt": "2024-01-01T00:00:00",
                "readOnly": False,
                "totalSweeps": 0,
            }
        }
        for i in ids
    ]
    info = {"endCursor": cursor, "hasNextPage": has_next}
    return {"data": {"models": {"edges": edges, "pageInfo": info}}}


def test_runs_pager_repeating_its_first_page_is_refused_at_once(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 10)
    fake.repeat_first_page = True
    fake.run_count = None  # no count: only the repeat can stop the walk
    with pytest.raises(ServerError, match="only runs it had sent before"):
        list(Runs(client, ENTITY, PROJECT, per_page=3, include_sweeps=False))
    assert fake.calls["RunsPage"] == 2


def test_run_listed_twice_is_kept_once_with_a_warning(
    client: RetryingClient,
) -> None:
    pages = iter(
        [
            {"names": ["a", "b"], "cursor": "c1", "next": True},
            {"names": ["b", "c"], "cursor": "c2", "next": False},
        ]
    )

    def answer(page: dict[str, Any]) -> dict[str, Any]:
        edges = [{"node": make_run(n), "cursor": n} for n in page["names"]]
        info = {"endCursor": page["cursor"], "hasNextPage": page["next"]}
        runs = {"edges": edges, "pageInfo": info}
        project = {"runCount": 3, "readOnly": False, "runs": runs}
        return {"data": {"project": project}}

    with respx.mock() as router:
        router.post(URL).mock(side_effect=bounded(map(answer, pages)))
        runs = Runs(client, ENTITY, PROJECT, per_page=2, include_sweeps=False)
        with pytest.warns(DuplicateItemWarning, match="1 runs it had already sent"):
            names = [run.id for run in runs]
    assert names == ["a", "b", "c"]
    assert len(runs) == 3


def test_projects_pager_repeating_its_page_is_refused_at_once() -> None:
    def pages() -> Iterator[dict[str, Any]]:
        n = 0
        while True:  # the same two projects, a fresh cursor each time
            n += 1
            yield project_page(["1", "2"], f"c{n}", True)

    with respx.mock() as router:
        route = router.post(FAKE + "/graphql").mock(side_effect=bounded(pages()))
        with (
            runs_client.Api(api_key="k", base_url=FAKE, max_retries=0) as api,
            pytest.raises(ServerError, match="only projects it had sent before"),
        ):
            api.projects("e")
    assert route.call_count == 2


def test_project_listed_twice_is_kept_once_with_a_warning() -> None:
    pages = iter(
        [project_page(["1", "2"], "c1", True), project_page(["2", "3"], "c2", False)]
    )
    with respx.mock() as router:
        router.post(FAKE + "/graphql").mock(side_effect=bounded(pages))
        with (
            runs_client.Api(api_key="k", base_url=FAKE, max_retries=0) as api,
            pytest.warns(DuplicateItemWarning, match="projects it had already sent"),
        ):
            projects = api.projects("e")
    assert [p.name for p in projects] == ["p-1", "p-2", "p-3"]


def test_per_run_fallback_listing_repeating_its_page_is_refused(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 1001)  # over one listing page of 1,000 names
    fake.bulk_refused = True  # histories() lists run names, then asks per run
    fake.repeat_first_page = True
    fake.run_count = None
    with (
        pytest.warns(runs_client.BulkHistoryWarning),
        pytest.raises(runs_client.IncompleteHistoriesError) as raised,
    ):
        Runs(client, ENTITY, PROJECT, include_sweeps=False).histories(samples=5)
    assert isinstance(raised.value.__cause__, ServerError)
    assert "only runs it had sent before" in str(raised.value.__cause__)
    assert fake.calls["RunsPage"] == 2
    assert fake.calls["RunHistory"] == 0


def test_bulk_pages_repeating_runs_keep_each_run_once(
    client: RetryingClient, fake: FakeWandb
) -> None:
    names = seed(fake, 6)
    fake.repeat_first_page = True  # each page starts again at the first run
    with pytest.warns(DuplicateItemWarning, match="runs it had already sent"):
        rows = Runs(client, ENTITY, PROJECT, include_sweeps=False).histories(
            samples=5, rows_per_request=10
        )
    assert [row["run_id"] for row in rows] == names


@pytest.mark.parametrize(
    ("ids", "fresh"),
    [
        (["a", "b"], [True, True]),
        (["b", "c", "c"], [False, True, False]),
    ],
)
def test_guard_marks_repeats_across_and_within_pages(
    ids: list[str], fresh: list[bool]
) -> None:
    guard = PageGuard("pager", 10)
    guard.admit(["a", "b"], has_next=True, end_cursor="c1")
    if ids == ["a", "b"]:  # the first page again, seen fresh by a new guard
        assert (
            PageGuard("pager", 10).check(ids, has_next=False, end_cursor=None) == fresh
        )
        return
    with pytest.warns(DuplicateItemWarning):
        assert guard.check(ids, has_next=False, end_cursor=None) == fresh


def test_guard_check_changes_nothing_until_record() -> None:
    # A page whose use failed is asked again: it must not then be a repeat.
    guard = PageGuard("pager", 10)
    first = guard.check(["a"], has_next=True, end_cursor="c1")
    again = guard.check(["a"], has_next=True, end_cursor="c1")
    assert first == again == [True]
    guard.record(["a"], again, "c1")
    assert guard.held == 1
    with pytest.raises(ServerError, match="did not advance"):
        guard.check(["b"], has_next=True, end_cursor="c1")
