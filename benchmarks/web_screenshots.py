"""Screenshots of the web pages for the README: ``docs/web-runs-table.png``,
``docs/web-run-page.png`` and ``docs/web-graphiql.png``, taken in headless
Chromium (``benchmarks/browser.py``) from runs_server over the demo project.

Run ``.venv/bin/python benchmarks/web_screenshots.py`` (needs ``chromium`` and
``chromium-driver``: ``apt-get install -y chromium chromium-driver``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from browser import chromium, console_errors, wait_for

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.loaders.demo import seed_demo
from runs_server.store import Store

DOCS = Path(__file__).resolve().parents[1] / "docs"
READY = "document.body.dataset.state !== 'loading' && document.body.dataset.state"
GRAPHIQL_QUERY = """# The three best runs by validation accuracy
query Best($entity: String!, $project: String!) {
  project(name: $project, entityName: $entity) {
    runCount
    runs(first: 3, order: "-summary_metrics.val.acc") {
      edges {
        node { name displayName state tags createdAt }
      }
    }
  }
}
"""
GRAPHIQL_VARIABLES = '{"entity": "demo", "project": "mnist"}'
CODEMIRROR = "document.querySelector('{} .CodeMirror').CodeMirror"


def graphiql(driver: Any, url: str, path: Path) -> None:
    """GraphiQL with a query typed in, run, and its answer shown."""
    driver.get(url + "/graphql")
    wait_for(driver, READY)
    query = CODEMIRROR.format(".graphiql-query-editor")
    variables = CODEMIRROR.format(".graphiql-editor-tool")
    response = CODEMIRROR.format(".graphiql-response")
    driver.execute_script(f"{query}.setValue(arguments[0])", GRAPHIQL_QUERY)
    driver.execute_script(f"{variables}.setValue(arguments[0])", GRAPHIQL_VARIABLES)
    driver.find_element("css selector", ".graphiql-execute-button").click()
    wait_for(driver, f"{response}.getValue()")
    driver.save_screenshot(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for the PNGs")
    out = parser.parse_args().out
    store = Store()
    seed_demo(store)
    app = RunsServerApp(store, ServerConfig())
    with BackgroundServer(app) as server, chromium(1280, 760) as driver:
        project = f"{server.url}/demo/mnist"
        driver.get(f"{project}?order=-summary_metrics.val.acc")
        wait_for(driver, READY)
        rows = driver.find_elements("css selector", "tr[data-run] input")
        for box in rows[:3]:
            box.click()
        names = driver.execute_script(
            "return [...document.querySelectorAll('tr[data-run]')]"
            ".slice(0, 3).map(r => r.dataset.run)"
        )
        driver.save_screenshot(str(out / "web-runs-table.png"))
        driver.set_window_size(1280, 1500)
        compare = ",".join(names[1:])
        driver.get(f"{project}/runs/{names[0]}?compare={compare}&smooth=0.6")
        wait_for(driver, READY)
        driver.execute_script("document.querySelector('#history').scrollIntoView()")
        driver.save_screenshot(str(out / "web-run-page.png"))
        driver.set_window_size(1280, 760)
        graphiql(driver, server.url, out / "web-graphiql.png")
        errors = console_errors(driver)
        if errors:
            raise SystemExit(f"the pages logged errors: {errors}")
    store.close()
    written = ("web-runs-table.png", "web-run-page.png", "web-graphiql.png")
    print("wrote " + ", ".join(str(out / name) for name in written))


if __name__ == "__main__":
    main()
