"""Screenshots of the web pages for the README: ``docs/web-runs-table.png`` and
``docs/web-run-page.png``, taken in headless Chromium (``benchmarks/browser.py``)
from runs_server over the demo project.

Run ``.venv/bin/python benchmarks/web_screenshots.py`` (needs ``chromium`` and
``chromium-driver``: ``apt-get install -y chromium chromium-driver``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from browser import chromium, console_errors, wait_for

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.loaders.demo import seed_demo
from runs_server.store import Store

DOCS = Path(__file__).resolve().parents[1] / "docs"
READY = "document.body.dataset.state !== 'loading' && document.body.dataset.state"


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
        errors = console_errors(driver)
        if errors:
            raise SystemExit(f"the pages logged errors: {errors}")
    store.close()
    print(f"wrote {out / 'web-runs-table.png'} and {out / 'web-run-page.png'}")


if __name__ == "__main__":
    main()
