"""The web pages in a real browser: Debian's headless Chromium driven by
selenium, against runs_server over the demo project.

The table's rows must be the API's runs (asked here over HTTP, with the same
filters and orders), sorting and filtering must change them as the API does,
every numeric history key and system metric must draw a chart with points, a
compared run must share one bulk ``sampledHistory`` request, a server that
requires a key must get it from the page's form, and the console must stay
free of errors (CSP violations included). One browser for the module.

A missing browser skips these tests on a developer's machine and fails them
in CI (``CI`` set), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from benchmarks.browser import BrowserMissing, chromium, console_errors, wait_for
from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.demo_seed import seed_demo_copy

pytestmark = pytest.mark.e2e

ENTITY, PROJECT = "demo", "mnist"
READY = "document.body.dataset.state !== 'loading' && document.body.dataset.state"
ROWS = "[...document.querySelectorAll('tr[data-run]')].map(r => r.dataset.run)"
RUNS_QUERY = """query(
  $filters: JSONString, $order: String, $after: String, $first: Int
) {
  project(name: "mnist", entityName: "demo") {
    runs(filters: $filters, order: $order, after: $after, first: $first) {
      edges { node { name displayName tags createdAt historyKeys } }
      pageInfo { endCursor }
    }
  }
}"""


class Recorded:
    """The server's GraphQL requests, by the operation's text."""

    def __init__(self, app: RunsServerApp) -> None:
        self.bodies: list[str] = []
        respond = app.graphql.respond

        def recording(body: bytes, *args: Any, **kwargs: Any) -> Any:
            self.bodies.append(orjson.loads(body).get("query", ""))
            return respond(body, *args, **kwargs)

        app.graphql.respond = recording  # type: ignore[method-assign]

    def count(self, operation: str) -> int:
        return sum(f"query {operation}(" in body for body in self.bodies)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with chromium() as driver:
            yield driver
    except BrowserMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI must run the browser tests)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BackgroundServer, Recorded, str]]:
    store = Store()
    info = seed_demo_copy(store)
    app = RunsServerApp(store, ServerConfig())
    recorded = Recorded(app)
    with BackgroundServer(app) as running:
        yield running, recorded, info.api_key
    store.close()


def api_runs(url: str, *, after: str | None = None, **variables: Any) -> list[Any]:
    body = {
        "query": RUNS_QUERY,
        "variables": {"first": 50, "after": after, **variables},
    }
    response = httpx.post(url + "/graphql", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return [e["node"] for e in response.json()["data"]["project"]["runs"]["edges"]]


def api_cursor(url: str, **variables: Any) -> str:
    """The end cursor of the API's first page of 50 runs."""
    body = {"query": RUNS_QUERY, "variables": {"first": 50, **variables}}
    response = httpx.post(url + "/graphql", json=body, timeout=30)
    return str(response.json()["data"]["project"]["runs"]["pageInfo"]["endCursor"])


def sampled(url: str, run: str, keys: list[str]) -> list[Any]:
    """Every row of a run holding ``keys``, from the API."""
    query = """query($name: String!, $specs: [JSONString!]!) {
      project(name: "mnist", entityName: "demo") {
        run(name: $name) { sampledHistory(specs: $specs) }
      }
    }"""
    spec = json.dumps({"keys": keys, "samples": 100_000})
    body = {"query": query, "variables": {"name": run, "specs": [spec]}}
    response = httpx.post(url + "/graphql", json=body, timeout=30)
    rows: list[Any] = response.json()["data"]["project"]["run"]["sampledHistory"][0]
    assert rows
    return sorted(rows, key=lambda row: row["_step"])


def choose_x(browser: Any, mode: str) -> None:
    axis = browser.find_element("id", "x-axis")
    browser.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('change'))",
        axis,
        mode,
    )


def names(nodes: list[Any]) -> list[str]:
    return [node["name"] for node in nodes]


def load(browser: Any, url: str) -> str:
    browser.get(url)
    state = wait_for(browser, READY)
    assert state == "ready", browser.find_element("id", "error").text
    return str(state)


def rerendered(browser: Any, action: Any) -> list[str]:
    """The table's runs after ``action`` (a click or submit) has reloaded it."""
    browser.execute_script("document.body.dataset.state = 'loading'")
    action()
    load_state = wait_for(browser, READY)
    assert load_state == "ready", browser.find_element("id", "error").text
    return list(browser.execute_script("return " + ROWS))


def test_runs_table_is_the_apis_first_page_sorted_filtered_and_paged(
    browser: Any, server: tuple[BackgroundServer, Recorded, str]
) -> None:
    running, _, _ = server
    load(browser, f"{running.url}/{ENTITY}/{PROJECT}")
    shown = browser.execute_script("return " + ROWS)
    assert shown == names(api_runs(running.url, order="-created_at"))
    assert len(shown) == 50

    header = browser.find_element("css selector", "th[data-order='displayName']")
    ascending = rerendered(browser, header.click)
    assert ascending == names(api_runs(running.url, order="+displayName"))
    assert ascending != shown
    header = browser.find_element("css selector", "th[data-order='displayName']")
    descending = rerendered(browser, header.click)
    assert descending == names(api_runs(running.url, order="-displayName"))

    lr = browser.find_element("css selector", "th[data-order='config.lr']")
    by_lr = rerendered(browser, lr.click)
    assert by_lr == names(api_runs(running.url, order="+config.lr"))

    second = rerendered(browser, browser.find_element("id", "next").click)
    cursor = api_cursor(running.url, order="+config.lr")
    assert second == names(api_runs(running.url, order="+config.lr", after=cursor))
    assert not set(second) & set(by_lr)

    filters = browser.find_element("id", "filters")
    filters.send_keys('{"state": "crashed"}')
    crashed = rerendered(browser, browser.find_element("id", "apply").click)
    expected = api_runs(
        running.url, order="+config.lr", filters=json.dumps({"state": "crashed"})
    )
    assert crashed == names(expected)
    assert 0 < len(crashed) < 50
    assert browser.find_element("id", "prev").get_attribute("disabled")
    assert console_errors(browser) == []


def test_search_box_matches_names_and_tags(
    browser: Any, server: tuple[BackgroundServer, Recorded, str]
) -> None:
    running, _, _ = server
    load(browser, f"{running.url}/{ENTITY}/{PROJECT}")
    every: list[Any] = []
    after = None
    for _ in range(20):  # 320 runs: 7 pages; a bound, not a loop forever
        page = httpx.post(
            running.url + "/graphql",
            json={"query": RUNS_QUERY, "variables": {"first": 50, "after": after}},
            timeout=30,
        ).json()["data"]["project"]["runs"]
        every += [e["node"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if len(page["edges"]) < 50:
            break
    assert len(every) == 320
    newest_first = sorted(
        every, key=lambda n: (n["createdAt"], n["name"]), reverse=True
    )
    for word in ("brisk", "v2"):
        box = browser.find_element("id", "search")
        box.clear()
        box.send_keys(word)
        shown = rerendered(browser, browser.find_element("id", "apply").click)
        oracle = [
            n["name"]
            for n in newest_first
            if word in n["displayName"] or word in n["name"] or word in n["tags"]
        ]
        assert shown == oracle[:50], word
        assert shown
    assert console_errors(browser) == []


def test_run_page_draws_every_key_and_compares_in_one_bulk_request(
    browser: Any, server: tuple[BackgroundServer, Recorded, str]
) -> None:
    running, recorded, _ = server
    first, second, third = api_runs(running.url, order="+created_at", first=3)
    keys = {
        key
        for key, info in first["historyKeys"]["keys"].items()
        if not key.startswith("_")
        and any(t["type"] == "number" for t in info["typeCounts"])
    }
    assert len(keys) >= 3
    load(browser, f"{running.url}/{ENTITY}/{PROJECT}/runs/{first['name']}")
    charts = browser.execute_script("return window.runsWebCharts")
    system = {key for key in charts if key.startswith("system.")}
    assert set(charts) - system == keys
    assert system  # the demo logs system metrics
    for key, chart in charts.items():
        assert chart["canvas"] and chart["points"] > 0 and chart["series"] == 1, key

    # Wall time on x: each key's line spans the run's own first to last
    # _timestamp (the times come from a spec of their own, matched by step).
    rows = sampled(running.url, first["name"], ["_step", "_timestamp", "loss"])
    choose_x(browser, "wall")
    loss = browser.execute_script("return window.runsWebCharts.loss")
    assert loss["xFirst"] == pytest.approx(rows[0]["_timestamp"])
    assert loss["xLast"] == pytest.approx(rows[-1]["_timestamp"])
    assert "x=wall" in browser.current_url

    before = recorded.count("WebHistories")
    compare = f"?compare={second['name']},{third['name']}"
    load(browser, f"{running.url}/{ENTITY}/{PROJECT}/runs/{first['name']}{compare}")
    assert recorded.count("WebHistories") == before + 1
    charts = browser.execute_script("return window.runsWebCharts")
    for key in keys:
        assert charts[key]["series"] == 3 and charts[key]["points"] > 0, key

    choose_x(browser, "relative")
    charts = browser.execute_script("return window.runsWebCharts")
    assert all(chart["points"] > 0 for chart in charts.values())
    assert console_errors(browser) == []


def test_a_server_that_requires_a_key_gets_it_from_the_form_not_the_address(
    browser: Any,
) -> None:
    store = Store()
    key = seed_demo_copy(store).api_key
    with BackgroundServer(
        RunsServerApp(store, ServerConfig(require_auth=True))
    ) as locked:
        browser.get(f"{locked.url}/{ENTITY}/{PROJECT}")
        wait_for(browser, "!document.getElementById('auth').hidden")
        assert browser.execute_script("return " + ROWS) == []
        browser.find_element("css selector", "#auth input").send_keys(key)
        browser.execute_script("document.body.dataset.state = 'loading'")
        browser.find_element("css selector", "#auth button").click()
        assert wait_for(browser, READY) == "ready"
        assert len(browser.execute_script("return " + ROWS)) == 50
        assert key not in browser.current_url
        stored = browser.execute_script(
            "return sessionStorage.getItem('runs_server_api_key')"
        )
        assert stored == key
        # The 401 before the key is a console error by design: drop it.
        errors = console_errors(browser)
        assert all("401" in error for error in errors), errors
    store.close()
