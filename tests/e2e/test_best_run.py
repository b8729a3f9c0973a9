"""Sweep.best_run() against runs_server (issue 18): the metric from a YAML
config as W&B stores it; with no metric and no order, the most recent run with
a warning, as the official SDK 0.31 does; and never a run lacking the key the
best is chosen by."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

import runs_client
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.e2e.either_api import make_either

KEY = "b" * 40
PATH = "team/sweeps"


@pytest.fixture(scope="module", params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Iterator[runs_client.Api]:
    """``Api``, and ``AsyncApi`` through the sync view (``AsyncSweep`` shares
    ``SweepInfo.best_query`` with ``Sweep``)."""
    store = Store()
    store.users.create("owner", entity="team", api_key=KEY)
    store.projects.create("team", "sweeps")
    yaml_metric = "method: bayes\nmetric:\n  goal: maximize\n  name: acc\n"
    store.projects.create_sweep(PATH, "yamlmax", config=yaml_metric)
    store.projects.create_sweep(PATH, "nometric", config="method: random\n")
    store.projects.create_sweep(PATH, "nobody", config=yaml_metric)
    runs = {
        # name: (sweep, created, summary)
        "y-low": ("yamlmax", 1, {"acc": 0.2}),
        "y-nan": ("yamlmax", 2, {"acc": math.nan}),
        "y-high": ("yamlmax", 3, {"acc": 0.9}),
        "y-none": ("yamlmax", 4, {"loss": 0.1}),  # lacks acc: never the best
        "n-old": ("nometric", 1, {"acc": 0.99}),
        "n-new": ("nometric", 5, {"acc": 0.1}),
        "n-mid": ("nometric", 3, {}),
        "b-one": ("nobody", 1, {"loss": 1.0}),  # no run of "nobody" has acc
    }
    for name, (sweep, minute, summary) in runs.items():
        store.runs.add(
            PATH,
            name,
            sweep=sweep,
            summary=summary,
            created_at=f"2024-01-01T00:0{minute}:00",
        )
    server = BackgroundServer(RunsServerApp(store)).start()
    client = make_either(request.param, api_key=KEY, base_url=server.url)
    try:
        yield client
    finally:
        client.close()
    server.stop()
    store.close()


def test_the_metric_comes_from_a_yaml_config(api: runs_client.Api) -> None:
    sweep = api.sweep(f"{PATH}/yamlmax")
    assert sweep.config["metric"] == {"goal": "maximize", "name": "acc"}
    best = sweep.best_run()
    assert best is not None and best.id == "y-high"


def test_a_key_some_runs_lack_never_picks_one_of_them(api: runs_client.Api) -> None:
    sweep = api.sweep(f"{PATH}/yamlmax")
    # Ascending, NaN and missing values come after the numbers anyway; the
    # filter matters when no number is left: lowest loss is only y-none's.
    best = sweep.best_run(order="+summary_metrics.acc")
    assert best is not None and best.id == "y-low"
    by_loss = sweep.best_run(order="-summary_metrics.loss")
    assert by_loss is not None and by_loss.id == "y-none"
    nobody = api.sweep(f"{PATH}/nobody")  # b-one, its only run, lacks acc
    assert nobody.best_run(order="-summary_metrics.acc") is None
    assert nobody.best_run() is None
    nometric = api.sweep(f"{PATH}/nometric")
    best = nometric.best_run(order="+summary_metrics.acc")
    assert best is not None and best.id == "n-new"  # n-mid lacks acc


def test_no_metric_and_no_order_is_the_most_recent_run(api: runs_client.Api) -> None:
    sweep = api.sweep(f"{PATH}/nometric")
    with pytest.warns(UserWarning, match="names no metric"):
        best = sweep.best_run()
    assert best is not None and best.id == "n-new"
