"""POST /columnar/history ``RunNames`` names the runs ``project.runs`` lists
through /graphql (same filters, order and cursor; ``complete`` false past the
cap; an unreadable project looks missing), ``stepGrid`` pages hold the rows
pages without it hold, and columnar pages read few run columns yet keep
their cursor under every order.

The oracle for names is the /graphql listing of the same server; the oracle
for a grid is a plain decoding: run ``i``'s steps are ``starts[i] + offsets``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow.ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runs_server import listing
from runs_server.history import Spec, columnar
from runs_server.http import columnar_endpoint
from runs_server.http.config import ServerConfig
from runs_server.store import Store
from tests.e2e.conftest import E2E_KEY, SPECS, Server, start_server

LIST = (
    "query L($entity: String, $project: String!, $filters: JSONString, "
    "$order: String, $cursor: String, $first: Int) { project(name: $project, "
    "entityName: $entity) { runs(filters: $filters, order: $order, "
    "first: $first, after: $cursor) { edges { node { name } } "
    "pageInfo { endCursor hasNextPage } } } }"
)


@pytest.fixture(scope="module")
def live() -> Iterator[Server]:
    server = start_server(demo=False)
    yield server
    server.stop()


def _graphql(url: str, **variables: Any) -> dict[str, Any]:
    body = {"query": LIST, "variables": {"entity": "e2e", "project": "hand",
                                         **variables}}  # fmt: skip
    reply = httpx.post(url + "/graphql", json=body, timeout=30).json()
    assert "errors" not in reply, reply
    return dict(reply["data"]["project"]["runs"])


def listed(url: str, **variables: Any) -> list[str]:
    """Every name /graphql lists, page after page (at most 20 pages)."""
    names: list[str] = []
    for _ in range(20):
        runs = _graphql(url, first=7, **variables)
        names += [e["node"]["name"] for e in runs["edges"]]
        if not runs["pageInfo"]["hasNextPage"]:
            return names
        variables["cursor"] = runs["pageInfo"]["endCursor"]
    raise AssertionError("the listing did not end within 20 pages")


def run_names(url: str, auth: Any = None, **variables: Any) -> httpx.Response:
    body = {"operationName": "RunNames",
            "variables": {"entity": "e2e", "project": "hand", **variables}}  # fmt: skip
    return httpx.post(url + "/columnar/history", json=body, auth=auth, timeout=30)


# Filters and orders over values the hand runs really hold.
STATES = sorted({s.state for s in SPECS})
BATCHES = sorted({s.config["batch"] for s in SPECS})
XS = sorted({s.config["x"] for s in SPECS if "x" in s.config})
YS = sorted({s.summary["y"] for s in SPECS if "y" in s.summary})
TAGS = sorted({t for s in SPECS for t in s.tags})
ORDERS = ["+created_at", "-created_at", "+name", "-name", "+config.x",
          "-config.x", "+config.lr", "-summary_metrics.y", "+display_name"]  # fmt: skip

ONE_FILTER = st.one_of(
    st.builds(lambda v: {"state": v}, st.sampled_from(STATES)),
    st.builds(lambda v: {"config.batch": v}, st.sampled_from(BATCHES)),
    st.builds(lambda v: {"config.x": {"$gte": v}}, st.sampled_from(XS)),
    st.builds(lambda v: {"summary_metrics.y": {"$lt": v}}, st.sampled_from(YS)),
    st.builds(lambda v: {"tags": v}, st.sampled_from(TAGS)),
)
FILTERS = st.one_of(
    ONE_FILTER,
    st.builds(lambda a, b: {"$or": [a, b]}, ONE_FILTER, ONE_FILTER),
    st.builds(lambda a, b: {"$and": [a, b]}, ONE_FILTER, ONE_FILTER),
)


def test_run_names_are_the_graphql_listing(live: Server) -> None:
    selected: list[int] = []

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(filters=st.none() | FILTERS, order=st.sampled_from(ORDERS),
           skip=st.integers(0, 9))  # fmt: skip
    def check(filters: dict[str, Any] | None, order: str, skip: int) -> None:
        variables: dict[str, Any] = {"order": order}
        if filters is not None:
            variables["filters"] = json.dumps(filters)
        want = listed(live.url, **variables)
        selected.append(len(want))
        if skip:  # after the cursor of the first ``skip`` runs
            first = _graphql(live.url, first=skip, **variables)
            variables["cursor"] = first["pageInfo"]["endCursor"]
            want = want[skip:]
        reply = run_names(live.url, **variables)
        assert reply.status_code == 200
        assert reply.json() == {
            "data": {"project": {"runNames": want, "complete": True}}
        }

    check()
    some = [n for n in selected if 0 < n < len(SPECS)]
    assert len(some) > len(selected) // 2  # most examples select some runs


def test_run_names_past_the_cap_are_incomplete(
    live: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = listed(live.url, order="+name")
    assert len(everything) == len(SPECS)
    monkeypatch.setattr(columnar_endpoint, "MAX_PLAN_NAMES", 5)
    capped = run_names(live.url, order="+name").json()["data"]["project"]
    assert capped["runNames"] == everything[:5]
    assert capped["complete"] is False
    # Its end cursor is where the next names start, as a listing's cursor.
    after = _graphql(live.url, order="+name", first=5)
    assert capped["endCursor"] == after["pageInfo"]["endCursor"]
    # Exactly at the cap: all of them, complete.
    monkeypatch.setattr(columnar_endpoint, "MAX_PLAN_NAMES", len(SPECS))
    whole = run_names(live.url, order="+name").json()["data"]["project"]
    assert whole == {"runNames": everything, "complete": True}


@pytest.mark.parametrize("order", ORDERS)
def test_run_names_past_the_cap_chain_through_their_end_cursors(
    live: Server, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    everything = listed(live.url, order=order)
    monkeypatch.setattr(columnar_endpoint, "MAX_PLAN_NAMES", 4)
    chained: list[str] = []
    variables: dict[str, Any] = {"order": order}
    for _ in range(len(everything)):  # bounded: at least one name a request
        part = run_names(live.url, **variables).json()["data"]["project"]
        chained += part["runNames"]
        if part["complete"]:
            assert "endCursor" not in part
            break
        variables["cursor"] = part["endCursor"]
    assert chained == everything


def test_run_names_refusals(live: Server) -> None:
    assert run_names(live.url, project="nope").json() == {"data": {"project": None}}
    bad = run_names(live.url, filters='{"config.x": {"$bogus": 1}}').json()
    assert "$bogus" in bad["errors"][0]["message"]
    cursor = run_names(live.url, cursor="not-a-cursor").json()
    assert cursor["errors"][0]["message"]


def test_private_project_run_names_look_missing() -> None:
    live = start_server(ServerConfig(require_auth=True), demo=False)
    try:
        live.store.users.create("other", api_key="o" * 40)
        live.store.projects.create("other", "secret", private=True)
        live.store.runs.add("other/secret", "r0")
        where = {"entity": "other", "project": "secret"}
        assert run_names(live.url, **where).status_code == 401
        hidden = run_names(live.url, auth=("api", E2E_KEY), **where)
        assert hidden.json() == {"data": {"project": None}}
        owner = run_names(live.url, auth=("api", "o" * 40), **where)
        assert owner.json()["data"]["project"] == {"runNames": ["r0"],
                                                   "complete": True}  # fmt: skip
    finally:
        live.stop()


# -- stepGrid ---------------------------------------------------------------


def _page_rows(page: columnar.PageColumns) -> list[dict[str, Any]]:
    """The page's rows (``_step`` from its grid, if any), NaN as text."""
    rows: list[dict[str, Any]] = [{} for _ in range(page.total)]
    for key, segments in page.segments.items():
        for segment in segments:
            values = segment.values
            values = values.tolist() if hasattr(values, "tolist") else list(values)
            for at, value in zip(segment.rows.tolist(), values, strict=True):
                rows[at][key] = "nan" if value != value else value
    if page.step_grid is not None:
        starts = page.step_grid.starts.tolist()
        offsets = page.step_grid.offsets.tolist()
        steps = [start + offset for start in starts for offset in offsets]
        assert len(steps) == page.total
        for row, step in zip(rows, steps, strict=True):
            row["_step"] = step
    return rows


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with Store() as held:
        held.projects.create("e", "grid")
        yield held


_count = iter(range(10**6))


def _runs(store: Store, shapes: list[tuple[int, int]]) -> list[int]:
    """Runs of ``loss`` and ``n`` at every step ``start .. start+count-1``."""
    ids = []
    for start, count in shapes:
        run = store.runs.add("e/grid", f"g{next(_count)}")
        rows = [{"_step": start + j, "loss": start + j / 4, "n": j * 3}
                for j in range(count)]  # fmt: skip
        store.history.log(run, rows, update_summary=False)
        ids.append(run)
    return ids


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    starts=st.lists(st.integers(0, 40), min_size=1, max_size=4),
    count=st.integers(1, 30),
    samples=st.none() | st.integers(1, 12),
    spec=st.booleans(),
)
def test_a_grid_page_holds_the_rows_of_a_plain_page(
    store: Store, starts: list[int], count: int, samples: int | None, spec: bool
) -> None:
    ids = _runs(store, [(s, count) for s in starts])
    asked = Spec(("_step", "loss"), samples) if spec else None
    per_run = None if spec else samples
    plain = columnar.read_columns(store.conn, ids, samples=per_run, spec=asked)
    grid = columnar.read_columns(
        store.conn, ids, samples=per_run, spec=asked, step_grid=True
    )
    assert plain.step_grid is None and "_step" in plain.segments
    assert grid.step_grid is not None and "_step" not in grid.segments
    assert grid.step_grid.starts.tolist() == starts
    assert grid.counts == plain.counts
    assert _page_rows(grid) == _page_rows(plain)
    kept = min(count, samples or count)
    assert grid.step_grid.offsets.tolist()[-1] == count - 1
    assert len(grid.step_grid.offsets) == kept


def test_pages_without_a_shared_grid_send_the_step_column(store: Store) -> None:
    uneven = _runs(store, [(0, 5), (3, 8)])  # runs of different lengths
    page = columnar.read_columns(store.conn, uneven, samples=None, step_grid=True)
    assert page.step_grid is None
    assert _page_rows(page)[:6] == [
        {"_step": j, "loss": j / 4, "n": j * 3} for j in range(5)
    ] + [{"_step": 3, "loss": 3.0, "n": 0}]
    # A bounded spec cutting runs at different places: no grid either.
    even = _runs(store, [(0, 10), (4, 10)])
    bounded = Spec(("_step", "loss"), None, 6, None)
    page = columnar.read_columns(
        store.conn, even, samples=None, spec=bounded, step_grid=True
    )
    assert page.step_grid is None
    assert [r["_step"] for r in _page_rows(page)] == [6, 7, 8, 9, *range(6, 14)]


def test_the_endpoint_sends_the_grid_in_the_metadata(live: Server) -> None:
    live.store.projects.create("e2e", "gridded")
    for i, start in enumerate((0, 10)):
        run = live.store.runs.add("e2e/gridded", f"r{i}")
        rows = [{"_step": start + j, "loss": float(j)} for j in range(4)]
        live.store.history.log(run, rows, update_summary=False)

    def page(**extra: Any) -> httpx.Response:
        body = {"operationName": "RunsHistoryPage",
                "variables": {"entity": "e2e", "project": "gridded",
                              "order": "+name", **extra}}  # fmt: skip
        return httpx.post(live.url + "/columnar/history", json=body, timeout=30)

    table = pyarrow.ipc.open_stream(page(stepGrid=True).content).read_all()
    info = json.loads(table.schema.metadata[b"runs"])
    assert info["stepGrid"] == {"starts": [0, 10], "offsets": [0, 1, 2, 3]}
    assert "_step" not in table.column_names
    assert table.column("loss").to_pylist() == [0.0, 1.0, 2.0, 3.0] * 2
    plain = pyarrow.ipc.open_stream(page().content).read_all()
    assert plain.column("_step").to_pylist() == [0, 1, 2, 3, 10, 11, 12, 13]
    for bad in ("yes", 1, None):
        refused = page(stepGrid=bad).json()
        message = refused["errors"][0]["message"]
        assert "stepGrid must be true or false" in message


# -- page_runs(columns=) ----------------------------------------------------


@pytest.mark.parametrize("order", ["+config.x", "-summary_metrics.y", "-name"])
def test_page_columns_keep_the_cursor(live: Server, order: str) -> None:
    conn = live.store.conn
    project = live.store.projects.find("e2e", "hand")
    assert project is not None
    names: list[str] = []
    cursor = None
    for _ in range(10):
        columns = "runs.id, runs.name, runs.history_line_count"
        sql = listing.page_runs(project.id, None, order, cursor, 5, columns)
        rows = conn.execute(sql.sql, sql.params).fetchall()
        # Those three, then the sort keys only: no config, summary or tags.
        got = [c for c in rows[0].keys() if not c.startswith("_sort_key")]  # noqa: SIM118  (a Row)
        assert got == ["id", "name", "history_line_count"]
        names += [str(r["name"]) for r in rows[:5]]
        if len(rows) <= 5:
            break
        cursor = listing.cursor_for(order, rows[4])
    assert names == listed(live.url, order=order)
    assert len(names) == len(SPECS)


def test_columnar_pages_ask_page_columns(
    live: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = listed(live.url, order="+config.x")[:3]
    asked: list[str] = []
    real = listing.page_runs

    def spying(*args: Any) -> Any:
        asked.append(args[5])
        return real(*args)

    monkeypatch.setattr(columnar_endpoint.listing, "page_runs", spying)
    body = {"operationName": "RunsHistoryPage",
            "variables": {"entity": "e2e", "project": "hand", "perPage": 3,
                          "order": "+config.x"}}  # fmt: skip
    reply = httpx.post(live.url + "/columnar/history", json=body, timeout=30)
    table = pyarrow.ipc.open_stream(reply.content).read_all()
    info = json.loads(table.schema.metadata[b"runs"])
    assert info["runs"] == want
    assert asked == ["runs.id, runs.name, runs.history_line_count"]


def test_a_page_of_only_steps_keeps_its_step_column(live: Server) -> None:
    """A grid there would leave the Arrow stream without columns, hence
    without rows: the client then refused the page (a grid of 8 rows for a
    table of 0)."""
    live.store.projects.create("e2e", "onlystep")
    for i, start in enumerate((0, 10)):
        run = live.store.runs.add("e2e/onlystep", f"r{i}")
        rows = [{"_step": start + j} for j in range(4)]
        live.store.history.log(run, rows, update_summary=False)
    for operation, extra in (("RunsHistoryPage", {}),
                             ("RunsSampledHistoryPage",
                              {"specs": ['{"keys": ["_step"]}']})):  # fmt: skip
        body = {"operationName": operation,
                "variables": {"entity": "e2e", "project": "onlystep",
                              "order": "+name", "stepGrid": True, **extra}}  # fmt: skip
        reply = httpx.post(live.url + "/columnar/history", json=body, timeout=30)
        table = pyarrow.ipc.open_stream(reply.content).read_all()
        assert "stepGrid" not in json.loads(table.schema.metadata[b"runs"])
        assert table.column("_step").to_pylist() == [0, 1, 2, 3, 10, 11, 12, 13]
