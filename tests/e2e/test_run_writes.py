"""runs_client writes into the real runs_server: create_run, update, stop,
delete, and a refused write, each read back through a fresh request; every
case for ``Api`` and ``AsyncApi`` (``client_kind``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from runs_client import GraphQLError, NotFoundError
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

from .either_api import make_either

pytestmark = pytest.mark.e2e

ADA, BOB = "a" * 40, "b" * 40


@pytest.fixture
def served() -> Iterator[tuple[str, Store]]:
    store = Store()
    store.users.create("ada", api_key=ADA)
    store.users.create("bob", api_key=BOB)
    with BackgroundServer(RunsServerApp(store)) as server:
        yield server.url, store
    store.close()


@pytest.fixture
def open_api(client_kind: str) -> Iterator[Any]:
    """``open_api(key, url)``: an ``Api``, or an ``AsyncApi`` seen through the
    sync view, closed after the test."""
    made: list[Any] = []

    def make(key: str, url: str) -> Any:
        made.append(make_either(client_kind, api_key=key, base_url=url))
        return made[-1]

    yield make
    for api in made:
        api.close()


def test_create_update_stop_and_delete_read_back(
    served: tuple[str, Store], open_api: Any
) -> None:
    url, store = served
    api = open_api(ADA, url)
    run = api.create_run(
        run_id="r1", project="fresh", config={"lr": 0.1}, tags=["a"], group="g"
    )
    assert (run.entity, run.state, run.config, run.tags) == (
        "ada",
        "running",
        {"lr": 0.1},
        ["a"],
    )
    run.update(
        config={"layers": 3},
        summary={"loss": 0.25, "bad": math.inf},
        tags=["a", "b"],
        notes="noted",
        name="Run One",
    )
    assert (run.tags, run.notes, run.name) == (["a", "b"], "noted", "Run One")
    again = api.run("ada/fresh/r1")
    assert again.config == {"lr": 0.1, "layers": 3}
    assert again.summary == {"loss": 0.25, "bad": math.inf}
    assert (again.tags, again.notes, again.name, again.group) == (
        ["a", "b"],
        "noted",
        "Run One",
        "g",
    )
    again.stop()
    assert store.streams.stop_requested(store.runs.id_of("ada/fresh", "r1"))
    again.delete()
    with pytest.raises(NotFoundError):
        api.run("ada/fresh/r1")


def test_a_write_outside_the_users_entities_is_refused(
    served: tuple[str, Store], open_api: Any
) -> None:
    url, store = served
    api = open_api(BOB, url)
    with pytest.raises(GraphQLError, match="not a member of entity 'ada'"):
        api.create_run(entity="ada", project="p", run_id="x")
    mine = api.create_run(project="p", run_id="x")  # bob's own entity
    assert mine.entity == "bob"
    assert store.projects.find("ada", "p") is None
