"""A filter, order or history key (or a state) that no run of the project
has gives a ``KeyWarning`` naming the closest keys; the result is as the
server gave it, and the hint costs one request, only when there is
something to check."""

from __future__ import annotations

import warnings

import pytest

from runs_client import Api, KeyWarning
from runs_client.key_hints import fetch_project_keys
from runs_client.transport.async_retrying import AsyncRetryingClient
from tests.e2e.conftest import ApiFactory, record_requests

pytestmark = pytest.mark.e2e

DEMO = "demo/mnist"


def _hints(call: object) -> list[KeyWarning]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert callable(call)
        call()
    return [w.message for w in caught if isinstance(w.message, KeyWarning)]


@pytest.mark.parametrize(
    ("filters", "kind", "key", "closest"),
    [
        ({"state": "finishd"}, "state", "finishd", ("finished",)),
        ({"summary_metrics.los": 0.1}, "summary", "los", ("summary_metrics.loss",)),
        ({"config.lrr": 0.1}, "config", "lrr", ("config.lr",)),
        ({"config.stat": "finished"}, "config", "stat", ("state",)),
        (
            {"$and": [{"state": "finished"}, {"config.optimizer.nam": "adam"}]},
            "config",
            "optimizer.nam",
            ("config.optimizer.name",),
        ),
    ],
)
def test_a_filter_matching_nothing_names_the_closest_key(
    make_api: ApiFactory,
    client_kind: str,
    filters: dict[str, object],
    kind: str,
    key: str,
    closest: tuple[str, ...],
) -> None:
    api = make_api()
    requests = record_requests(api)
    runs = api.runs(DEMO, filters=filters)
    got: list[object] = []
    hints = _hints(lambda: got.extend(runs[:5]))
    assert got == []  # the result is unchanged
    assert [(h.kind, h.key) for h in hints] == [(kind, key)]
    assert hints[0].closest[: len(closest)] == closest
    assert hints[0].where == "filters" and hints[0].path == DEMO
    assert closest[0] in str(hints[0])
    # The page, then at most one request for the keys (none for a state);
    # the sync Api sizes its pages, so it asks the server's page cap first.
    keyed = [] if kind == "state" else ["ProjectRunKeys"]
    sizing = ["ServerPageCap"] if client_kind == "sync" else []
    assert requests.operations == [*sizing, "RunsPage", *keyed]


def test_len_of_zero_hints_too(make_api: ApiFactory) -> None:
    api = make_api()
    runs = api.runs(DEMO, filters={"summary_metrics.val.acc_": {"$gt": 0.5}})
    hints = _hints(lambda: len(runs))
    assert [h.closest[0] for h in hints] == ["summary_metrics.val.acc"]


def test_an_order_key_no_run_has(make_api: ApiFactory) -> None:
    api = make_api()
    # Every run lacks the key: all tie, in run id order (descending here).
    plain = sorted((r.id for r in api.runs(DEMO, per_page=500)), reverse=True)[:10]
    runs = api.runs(DEMO, order="-summary_metrics.los")
    got: list[str] = []
    hints = _hints(lambda: got.extend(r.id for r in runs[:10]))
    assert got == plain  # unchanged
    assert [(h.where, h.key, h.closest[0]) for h in hints] == [
        ("order", "los", "summary_metrics.loss")
    ]


def test_history_keys_no_run_logged(make_api: ApiFactory) -> None:
    api = make_api()
    runs = api.runs(DEMO, filters={"state": "finished"}, per_page=500)
    frame = None

    def read() -> None:
        nonlocal frame
        frame = runs.histories(samples=5, keys=["loss", "val_acc"], format="pandas")

    hints = _hints(read)
    assert frame is not None and frame.empty  # W&B's AND rule, unchanged
    assert [(h.kind, h.key, h.closest[0]) for h in hints] == [
        ("history", "val_acc", "val.acc")
    ]


@pytest.mark.parametrize("fmt", ["default", "pandas", "polars"])
def test_iter_histories_names_a_key_no_run_logged(
    make_api: ApiFactory, fmt: str
) -> None:
    """As histories(): one KeyWarning once the batches are out, naming the
    closest key; the batches are as the server gave them."""
    api = make_api()
    requests = record_requests(api)
    runs = api.runs(DEMO, filters={"state": "finished"}, per_page=500)
    batches: list[object] = []

    def read() -> None:
        keys = ["loss", "val_acc"]
        batches.extend(runs.iter_histories(samples=5, keys=keys, format=fmt))

    hints = _hints(read)
    assert batches and all(len(b.data) == 0 for b in batches)  # type: ignore[attr-defined]
    assert [(h.kind, h.key, h.where, h.closest[0]) for h in hints] == [
        ("history", "val_acc", "keys", "val.acc")
    ]
    assert requests.operations.count("ProjectRunKeys") == 1
    requests.operations.clear()
    fine = runs.iter_histories(samples=5, keys=["loss", "val.acc"], format=fmt)
    assert _hints(lambda: list(fine)) == []
    assert "ProjectRunKeys" not in requests.operations


def test_no_hint_and_no_extra_request_when_all_is_well(make_api: ApiFactory) -> None:
    api = make_api()
    requests = record_requests(api)
    runs = api.runs(
        DEMO, filters={"config.lr": 0.5}, order="-summary_metrics.loss", per_page=500
    )  # matches nothing, but every key exists: one look at the keys
    assert _hints(lambda: runs[:3]) == []
    assert requests.operations == ["RunsPage", "ProjectRunKeys"]
    requests.operations.clear()
    found = api.runs(DEMO, filters={"state": "finished"}, order="+config.lr")
    assert _hints(lambda: found[:3]) == []
    frame = found.histories(samples=5, keys=["loss", "val.acc"], format="pandas")
    assert set(frame.columns) >= {"loss", "val.acc"}
    assert "ProjectRunKeys" not in requests.operations


def test_a_server_without_run_keys_gives_no_hint(
    make_api: ApiFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W&B itself has no runKeys: the GraphQL error means "no hint"."""
    api: Api = make_api()
    import runs_gql.async_client
    import runs_gql.client

    for module in (runs_gql.client, runs_gql.async_client):  # both clients'
        monkeypatch.setattr(
            module, "PROJECT_RUN_KEYS_GQL",
            'query ProjectRunKeys($entity: String!, $project: String!) '
            '{ project(name: $project, entityName: $entity) { noSuchField } }',
        )  # fmt: skip
    if not isinstance(api.client, AsyncRetryingClient):  # the sync helper
        assert fetch_project_keys(api.client, "demo", "mnist") is None
    runs = api.runs(DEMO, filters={"config.lrr": 0.1})
    assert _hints(lambda: runs[:1]) == []
