"""Listings that ask only for what they show: the requests' shapes, against a
W&B-like fake (respx): named columns, lazy pages, page sizes."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runs_client import Api, runs_frame
from runs_client._exceptions import GraphQLError, InvalidArgumentError
from runs_client.runs import Runs
from runs_client.transport.retrying import RetryingClient
from tests.client_unit.runs_fake_server import (  # noqa: F401  (fixtures)
    ENTITY,
    PROJECT,
    URL,
    FakeWandb,
    fake_fixture,
    make_run,
)


@pytest.fixture
def client() -> Iterator[RetryingClient]:
    with httpx.Client() as http:
        yield RetryingClient(URL, http, max_retries=0, sleep=lambda _: None)


def seed(fake: FakeWandb, n: int) -> list[str]:
    """Runs r000..; run i's config has lr=i/100 and opt={name, beta}, its
    summary loss=1/(i+1) and nested val={acc}; odd runs lack ``extra``."""
    names = [f"r{i:03d}" for i in range(n)]
    fake.runs = []
    for i, name in enumerate(names):
        config: dict[str, Any] = {
            "lr": {"value": i / 100},
            "opt": {"value": {"name": f"o{i % 3}", "beta": 0.9}},
            "_wandb": {"value": {"cli_version": "0.18.0"}},
        }
        if i % 2 == 0:
            config["extra"] = {"value": i}
        summary = {"loss": 1 / (i + 1), "val": {"acc": i / 10}}
        fake.runs.append(
            make_run(
                name,
                config=json.dumps(config),
                summaryMetrics=json.dumps(summary),
                systemMetrics=json.dumps({"gpu": i}),
            )
        )
    return names


def sent(fake: FakeWandb, operation: str) -> list[dict[str, Any]]:
    """The variables of each request of ``operation``, in order."""
    return [
        b.get("variables", {}) for b in fake.bodies if b["operationName"] == operation
    ]


def listing(client: RetryingClient, **kwargs: Any) -> Runs:
    return Runs(client, ENTITY, PROJECT, include_sweeps=False, **kwargs)


# -- named columns -------------------------------------------------------------


def test_named_columns_ask_only_their_top_level_keys(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 7)
    fake.page_cap = 1000
    frame = runs_frame(
        listing(client, per_page=None),
        columns=["config.opt.name", "summary.val.acc", "config.lr"],
    )
    (page,) = sent(fake, "RunsPageSelected")
    # A dotted key may be nested or a key with a dot in its name: both asked.
    assert page["configKeys"] == ["opt", "opt.name", "lr"]
    assert page["summaryKeys"] == ["val", "val.acc"]
    assert page["withRunFields"] is False
    assert page["perPage"] == 1000
    assert fake.calls["RunsPage"] == 0 and fake.calls["RunsHeavyFields"] == 0
    assert list(frame.columns) == ["config.opt.name", "summary.val.acc", "config.lr"]
    assert frame["config.opt.name"].tolist() == [f"o{i % 3}" for i in range(7)]
    assert frame["summary.val.acc"].tolist() == [i / 10 for i in range(7)]
    assert frame["config.lr"].tolist() == [i / 100 for i in range(7)]


def test_run_field_columns_ask_the_run_fields(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 3)
    frame = runs_frame(listing(client), columns=["id", "state", "summary.loss"])
    (page,) = sent(fake, "RunsPageSelected")
    assert page["withRunFields"] is True
    assert page["configKeys"] == [] and page["summaryKeys"] == ["loss"]
    assert frame["id"].tolist() == ["r000", "r001", "r002"]
    assert frame["state"].tolist() == ["finished"] * 3
    assert frame["summary.loss"].tolist() == [1.0, 0.5, 1 / 3]


def test_a_key_some_runs_lack_is_null_there(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 4)
    frame = runs_frame(listing(client), columns=["id", "config.extra"])
    values = frame["config.extra"].tolist()
    assert values[0] == 0 and values[2] == 2
    assert pd_isnull(values[1]) and pd_isnull(values[3])


def pd_isnull(value: Any) -> bool:
    return value is None or value != value


def test_a_loaded_listing_is_used_as_it_is(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 3)
    runs = listing(client)
    assert runs[0].id == "r000"  # loads the first page, whole
    frame = runs_frame(runs, columns=["config.lr"])
    assert fake.calls["RunsPageSelected"] == 0 and fake.calls["RunsPage"] == 1
    assert frame["config.lr"].tolist() == [0.0, 0.01, 0.02]


@pytest.mark.parametrize(
    ("columns", "hint"),
    [
        (["stat"], "did you mean 'state'"),
        (["lr"], "'config.lr' or 'summary.lr'"),
        (["config."], "'config.KEY'"),
        ("config.lr", "must be a list"),
        ([], "is empty"),
        ([3], "must be strings"),
    ],
)
def test_bad_columns_fail_before_any_request(
    client: RetryingClient, fake: FakeWandb, columns: Any, hint: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=hint):
        runs_frame(listing(client), columns=columns)
    assert fake.total == 0


# -- lazy runs --------------------------------------------------------------------


def test_lazy_pages_load_config_for_a_page_at_first_read(
    client: RetryingClient, fake: FakeWandb
) -> None:
    names = seed(fake, 7)
    runs = listing(client, per_page=3, lazy=True)
    assert [r.id for r in runs] == names
    assert fake.calls["RunsPageSelected"] == 3
    assert fake.calls["RunsHeavyFields"] == 0
    lean = sent(fake, "RunsPageSelected")[0]
    assert (lean["configKeys"], lean["summaryKeys"]) == ([], [])
    assert lean["withRunFields"] is True

    want = {"lr": 0.04, "opt": {"name": "o1", "beta": 0.9}, "extra": 4}
    assert runs[4].config == want
    (heavy,) = sent(fake, "RunsHeavyFields")
    assert json.loads(heavy["filters"]) == {"name": {"$in": names[3:6]}}
    assert heavy["perPage"] == 3
    # The rest of that page came with it.
    assert runs[3].summary == {"loss": 0.25, "val": {"acc": 0.3}}
    assert runs[5].system_metrics == {"gpu": 5}
    assert runs[5].rawconfig["lr"] == {"value": 0.05}
    assert fake.calls["RunsHeavyFields"] == 1
    [r.config for r in runs]
    assert fake.calls["RunsHeavyFields"] == 3  # one per page, never per run


def test_load_full_data_loads_the_page_once(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 2)
    runs = listing(client, lazy=True)
    first = runs[0]
    first.load_full_data()
    first.load_full_data()
    runs[1].load_full_data()
    assert fake.calls["RunsHeavyFields"] == 1
    assert runs[1].summary["loss"] == 0.5


def test_a_run_deleted_before_its_page_loads_reads_empty(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 3)
    runs = listing(client, lazy=True)
    held = list(runs)
    fake.runs = fake.runs[1:]
    assert held[0].config == {} and held[0].summary == {}
    assert held[1].config["lr"] == 0.01


def test_a_heavy_load_refused_as_too_large_is_asked_in_halves(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 8)
    runs = listing(client, per_page=8, lazy=True)
    held = list(runs)
    fake.max_listing_runs = 3
    assert [r.config["lr"] for r in held] == [i / 100 for i in range(8)]
    asked = [len(json.loads(v["filters"])["name"]["$in"]) for v in sent(
        fake, "RunsHeavyFields")]  # fmt: skip
    assert asked == [8, 4, 2, 2, 4, 2, 2]


def test_a_heavy_load_of_one_run_refused_raises(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 1)
    runs = listing(client, lazy=True)
    held = list(runs)
    fake.max_listing_runs = 0
    with pytest.raises(GraphQLError, match="larger than"):
        held[0].config  # noqa: B018
    assert fake.calls["RunsHeavyFields"] == 1


# -- page sizes ----------------------------------------------------------------


def test_without_an_advertised_cap_pages_stay_at_50(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 120)
    assert len(list(listing(client, per_page=None, lazy=True))) == 120
    assert [v["perPage"] for v in sent(fake, "RunsPageSelected")] == [50, 50, 50]
    assert fake.calls["ServerPageCap"] == 1


def test_pages_grow_to_the_advertised_cap_once_asked(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 120)
    fake.page_cap = 100
    assert len(list(listing(client, per_page=None))) == 120
    assert len(list(listing(client, per_page=None, lazy=True))) == 120
    assert [v["perPage"] for v in sent(fake, "RunsPage")] == [100, 100]
    assert [v["perPage"] for v in sent(fake, "RunsPageSelected")] == [100, 100]
    assert fake.calls["ServerPageCap"] == 1  # once per client


def test_large_runs_shrink_the_next_page(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 30)
    fake.page_cap = 10
    big = json.dumps({f"k{i}": "x" * 1000 for i in range(1000)})  # ~1 MB a run
    for run in fake.runs:
        run["summaryMetrics"] = big
    assert len(list(listing(client, per_page=None))) == 30
    # The first page trusts 16 KiB a run (the cap, 10); then 8 MiB holds 8.
    assert [v["perPage"] for v in sent(fake, "RunsPage")] == [10, 8, 8, 8]


def test_a_page_refused_as_too_large_is_asked_at_half(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 10)
    fake.page_cap = 1000
    fake.max_listing_runs = 100
    assert len(list(listing(client, per_page=None))) == 10
    assert [v["perPage"] for v in sent(fake, "RunsPage")] == [512, 256, 128, 64]


def test_a_fixed_page_refused_as_too_large_raises(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, 10)
    fake.max_listing_runs = 5
    with pytest.raises(GraphQLError, match="larger than"):
        list(listing(client, per_page=10))
    assert fake.calls["RunsPage"] == 1 and fake.calls["ServerPageCap"] == 0


def test_api_runs_sizes_pages_by_default(fake: FakeWandb) -> None:
    seed(fake, 3)
    base = URL.removesuffix("/graphql")
    with Api(base_url=base, api_key="k" * 40) as api, warnings.catch_warnings():
        warnings.simplefilter("error")
        runs = api.runs(f"{ENTITY}/{PROJECT}", include_sweeps=False, lazy=True)
        assert runs.lazy and [r.id for r in runs] == ["r000", "r001", "r002"]
    assert sent(fake, "RunsPageSelected")[0]["perPage"] == 50


def test_lazy_must_be_a_bool(client: RetryingClient, fake: FakeWandb) -> None:
    with pytest.raises(InvalidArgumentError, match="lazy must be True or False"):
        listing(client, lazy="yes")
    assert fake.total == 0
