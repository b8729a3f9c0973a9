"""GraphiQL at ``/graphql`` in a real browser (headless Chromium, selenium).

The page must start with a console free of errors (CSP violations included),
load the schema by introspection (the docs explorer lists the Query type's
fields), run a query with variables typed into its editors and show exactly
the answer the API gives over HTTP, and, on a server that requires a key, ask
for the key in the page's form, keep it in sessionStorage and never put it in
the address. A missing browser skips on a developer's machine and fails in CI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.keys import Keys

from benchmarks.browser import BrowserMissing, chromium, console_errors, wait_for
from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.demo_seed import seed_demo_copy

pytestmark = pytest.mark.e2e

READY = "document.body.dataset.state !== 'loading' && document.body.dataset.state"
RUNS = """query Oldest($entity: String!, $first: Int) {
  project(name: "mnist", entityName: $entity) {
    runs(first: $first, order: "+created_at") {
      edges { node { name displayName state config } }
    }
  }
}"""
VARIABLES = {"entity": "demo", "first": 3}
# GraphiQL's CodeMirror editors (the page turns the headers editor off, so
# the editor tools hold the variables editor alone).
CODEMIRROR = "document.querySelector('{} .CodeMirror').CodeMirror"
QUERY = CODEMIRROR.format(".graphiql-query-editor")
VARIABLES_EDITOR = CODEMIRROR.format(".graphiql-editor-tool")
RESPONSE = CODEMIRROR.format(".graphiql-response")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        with chromium() as driver:
            yield driver
    except BrowserMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI must run the browser tests)")
        pytest.skip(str(exc))


def api_answer(url: str, key: str | None = None) -> Any:
    auth = ("api", key) if key else None
    body = {"query": RUNS, "variables": VARIABLES}
    response = httpx.post(url + "/graphql", json=body, auth=auth, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def run_in_graphiql(browser: Any) -> Any:
    """Types RUNS and VARIABLES into GraphiQL's editors, presses its run
    button and gives the answer its response pane shows, parsed."""
    browser.execute_script(f"{QUERY}.setValue(arguments[0])", RUNS)
    browser.execute_script(
        f"{VARIABLES_EDITOR}.setValue(arguments[0])", json.dumps(VARIABLES)
    )
    browser.execute_script(f"{RESPONSE}.setValue('')")
    browser.find_element("css selector", ".graphiql-execute-button").click()
    shown = wait_for(browser, f"{RESPONSE}.getValue()")
    return json.loads(shown)


def query_fields(browser: Any) -> set[str]:
    """The Query type's fields as GraphiQL's docs explorer lists them: the
    schema GraphiQL got by introspection."""
    docs = "button[aria-label$=' Documentation Explorer']"  # Show, then Hide
    browser.find_element("css selector", docs).click()
    wait_for(browser, "document.querySelector('.graphiql-doc-explorer a')")
    browser.find_element("link text", "Query").click()
    fields = wait_for(
        browser,
        "[...document.querySelectorAll('.graphiql-doc-explorer-field-name')]"
        ".map(e => e.textContent)",
    )
    browser.find_element("css selector", docs).click()  # closes it again
    return set(fields)


def test_graphiql_loads_the_schema_and_shows_the_apis_answer(browser: Any) -> None:
    store = Store()
    seed_demo_copy(store)
    with BackgroundServer(RunsServerApp(store, ServerConfig())) as running:
        browser.get(running.url + "/graphql")
        assert wait_for(browser, READY) == "ready"
        assert browser.title == "runs_server GraphiQL"
        assert {"project", "viewer", "models"} <= query_fields(browser)

        # Its dialogs add a <style> element (the one thing its CSP relaxes).
        settings = "button[aria-label='Open settings dialog']"
        browser.find_element("css selector", settings).click()
        wait_for(browser, "document.querySelector('[role=dialog]')")
        browser.find_element("tag name", "body").send_keys(Keys.ESCAPE)
        wait_for(browser, "!document.querySelector('[role=dialog]')")

        shown = run_in_graphiql(browser)
        expected = api_answer(running.url)
        assert shown == expected
        edges = expected["data"]["project"]["runs"]["edges"]
        assert len(edges) == 3 and "errors" not in expected
        assert console_errors(browser) == []
    store.close()


def test_graphiql_asks_a_locked_server_for_the_key_once(browser: Any) -> None:
    store = Store()
    key = seed_demo_copy(store).api_key
    config = ServerConfig(require_auth=True)
    with BackgroundServer(RunsServerApp(store, config)) as locked:
        browser.get(locked.url + "/graphql")
        # GraphiQL's introspection meets the 401 and the page asks for a key.
        wait_for(browser, "!document.getElementById('auth').hidden")
        assert "API key" in browser.find_element("id", "auth").text
        browser.find_element("css selector", "#auth input").send_keys(key)
        browser.find_element("css selector", "#auth button").click()
        wait_for(browser, "document.getElementById('auth').hidden")
        # The introspection that met the 401 was sent again with the key.
        assert {"project", "viewer", "models"} <= query_fields(browser)

        assert run_in_graphiql(browser) == api_answer(locked.url, key)
        assert browser.find_element("id", "auth").get_attribute("hidden")
        assert key not in browser.current_url
        stored = browser.execute_script(
            "return sessionStorage.getItem('runs_server_api_key')"
        )
        assert stored == key
        # GraphiQL keeps its tabs and history in localStorage: never the key.
        kept = browser.execute_script("return JSON.stringify({...localStorage})")
        assert key not in kept
        # The 401 before the key is a console error by design: drop it.
        errors = console_errors(browser)
        assert errors and all("401" in error for error in errors), errors
    store.close()
