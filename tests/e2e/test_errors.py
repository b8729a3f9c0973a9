"""Errors end to end: not found, auth, private projects, bad filters, and the
argument checks that fail before any request. No error shows the API key."""

from __future__ import annotations

import base64
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import runs_client
from runs_client import (
    AuthenticationError,
    GraphQLError,
    InvalidArgumentError,
    NotFoundError,
    RunsClientError,
)
from runs_server.http.app import ServerConfig

from .conftest import (
    E2E_KEY,
    HAND,
    SPECS,
    ApiFactory,
    Server,
    record_requests,
    start_server,
)

pytestmark = pytest.mark.e2e

WRONG_KEY = "f00d" * 10


def secret_forms(key: str) -> list[str]:
    """The key as typed and as it travels in a Basic Authorization header."""
    return [key, base64.b64encode(f"api:{key}".encode()).decode()]


def assert_key_hidden(error: BaseException, *keys: str) -> None:
    """Neither the message, the repr, the request info nor the whole formatted
    traceback chain (causes included) shows any of ``keys``, plain or encoded."""
    shown = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
    ]
    if isinstance(error, RunsClientError):
        shown += [repr(error.request), str(error.request), repr(vars(error))]
    for key in keys:
        for form in secret_forms(key):
            for text in shown:
                assert form not in text


def raised(call: Callable[[], Any], kind: type[RunsClientError]) -> RunsClientError:
    with pytest.raises(kind) as info:
        call()
    assert_key_hidden(info.value, E2E_KEY, WRONG_KEY)
    return info.value


@pytest.fixture(scope="module")
def auth_server() -> Iterator[Server]:
    live = start_server(ServerConfig(require_auth=True), demo=False)
    yield live
    live.stop()


# -- not found -------------------------------------------------------------------


@pytest.mark.parametrize(
    "use",
    [
        len,
        list,
        lambda runs: runs[0],
        lambda runs: runs[-2:],
        lambda runs: runs.histories(),
    ],
    ids=["len", "list", "index", "slice", "histories"],
)
def test_missing_project_names_the_path(
    api: runs_client.Api, use: Callable[[runs_client.Runs], Any]
) -> None:
    runs = api.runs("e2e/no-such-project")
    error = raised(lambda: use(runs), NotFoundError)
    assert "e2e/no-such-project" in str(error)


def test_missing_entity(api: runs_client.Api) -> None:
    error = raised(lambda: len(api.runs("nobody/hand")), NotFoundError)
    assert str(error) == "Project nobody/hand not found."


def test_missing_run(api: runs_client.Api) -> None:
    error = raised(lambda: api.run(f"{HAND}/nope1234"), NotFoundError)
    assert str(error) == f"Run {HAND}/nope1234 not found."
    error = raised(lambda: api.run("e2e/gone/abc"), NotFoundError)
    assert str(error) == "Project e2e/gone not found."


def test_missing_sweep(api: runs_client.Api) -> None:
    error = raised(lambda: api.sweep(f"{HAND}/nosweep"), NotFoundError)
    assert "nosweep" in str(error)


def test_private_project_of_another_entity_is_not_found(
    make_api: ApiFactory, server: Server
) -> None:
    api = make_api()
    error = raised(lambda: len(api.runs("alice/secret")), NotFoundError)
    assert "alice/secret" in str(error)
    raised(lambda: api.run("alice/secret/secret00"), NotFoundError)
    # Its owner reads it: the project is there, just not for us.
    alice = server.store.users.by_name("alice")
    assert alice is not None and alice.api_key is not None
    owner = make_api(api_key=alice.api_key)
    assert [r.id for r in owner.runs("alice/secret")] == [
        "secret00",
        "secret01",
        "secret02",
    ]
    assert owner.run("alice/secret/secret01").history_line_count == 10


# -- authentication ----------------------------------------------------------------


def test_wrong_key_is_refused_with_401_and_not_retried(auth_server: Server) -> None:
    with runs_client.Api(api_key=WRONG_KEY, base_url=auth_server.url) as api:
        requests = record_requests(api)
        error = raised(lambda: len(api.runs(HAND)), AuthenticationError)
        assert error.status_code == 401
        assert error.server_message == "invalid API key"
        assert "refused the API key" in str(error)
        assert requests.operations == ["RunCount"]  # 401 is never retried
        raised(lambda: api.viewer, AuthenticationError)
        raised(lambda: api.run(f"{HAND}/{SPECS[0].id}"), AuthenticationError)


def test_unknown_key_reads_as_the_default_user_on_an_open_server(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # Was test_wrong_key_is_refused_by_an_open_server_too (401): open now means
    # open, for the cloud key W&B users have exported too.
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with runs_client.Api(api_key=WRONG_KEY, base_url=server.url) as api:
        with_key = [(r.id, r.name) for r in api.runs(HAND)]
        viewer = api.viewer.username
    with runs_client.Api(base_url=server.url) as api:
        assert with_key == [(r.id, r.name) for r in api.runs(HAND)]
        assert viewer == api.viewer.username


def test_no_key_when_the_server_requires_one(
    auth_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with runs_client.Api(base_url=auth_server.url) as api:
        error = raised(lambda: api.run(f"{HAND}/{SPECS[0].id}"), AuthenticationError)
        assert error.status_code == 401
        assert "no API key was sent" in str(error)
        assert "requires an API key" in (error.server_message or "")


def test_right_key_works_when_the_server_requires_one(auth_server: Server) -> None:
    with runs_client.Api(api_key=E2E_KEY, base_url=auth_server.url) as api:
        assert len(api.runs("hand")) == len(SPECS)  # the viewer's entity: e2e
        assert api.viewer.username == "e2e"


def test_key_from_the_environment(
    auth_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", E2E_KEY)
    monkeypatch.setenv("WANDB_BASE_URL", auth_server.url)
    with runs_client.Api() as api:
        assert api.run(f"{HAND}/{SPECS[1].id}").name == SPECS[1].display_name


# -- bad filters and orders: the server's GraphQL errors ---------------------------


@pytest.mark.sync_only
@pytest.mark.parametrize(
    ("filters", "needles"),
    [
        ({"state": {"$bogus": 1}}, ["$bogus"]),
        ({"$where": "1"}, ["$where"]),
        ({"display_name": {"$regex": "("}}, ["regex"]),
        ({"createdAt": {"$gt": 5}}, ["date"]),
        ({"state": {"$in": "finished"}}, ["$in"]),
    ],
)
def test_bad_filter_is_a_graphql_error_naming_the_problem(
    make_api: ApiFactory, filters: dict[str, Any], needles: list[str]
) -> None:
    api = make_api()
    requests = record_requests(api)
    error = raised(lambda: list(api.runs(HAND, filters=filters)), GraphQLError)
    assert isinstance(error, GraphQLError)
    assert error.status_code == 200
    assert error.errors and error.messages
    for needle in needles:
        assert needle.lower() in error.messages[0].lower()
        assert needle.lower() in str(error).lower()
    assert requests.operations == ["RunCount"]  # list() asks len(); not retried
    raised(lambda: api.runs(HAND, filters=filters, per_page=3)[0], GraphQLError)


def test_bad_order_is_a_graphql_error(api: runs_client.Api) -> None:
    error = raised(lambda: api.runs(HAND, order="+nonsense(")[0], GraphQLError)
    assert isinstance(error, GraphQLError)
    assert "nonsense(" in str(error)


# -- argument checks: nothing is sent ----------------------------------------------


@pytest.fixture
def quiet_api(make_api: ApiFactory) -> tuple[runs_client.Api, Any]:
    api = make_api(default_entity="e2e")
    return api, record_requests(api)


API_MISTAKES: list[tuple[str, Callable[[runs_client.Api], Any], str]] = [
    ("path 3 parts", lambda api: api.runs("a/b/c"), "accepted forms"),
    ("empty path", lambda api: api.runs(""), "accepted forms"),
    ("run path 1 part", lambda api: api.run("justone"), "accepted forms"),
    ("run colon no entity", lambda api: api.run("p:r"), "accepted forms"),
    ("run path spaces", lambda api: api.run("e/p q/r"), "accepted forms"),
    ("per_page 0", lambda api: api.runs(HAND, per_page=0), "per_page"),
    ("per_page bool", lambda api: api.runs(HAND, per_page=True), "per_page"),
    ("filters NaN", lambda api: api.runs(HAND, filters={"x": float("nan")}), "JSON"),
    ("filters object", lambda api: api.runs(HAND, filters={"x": object()}), "JSON"),
    ("filters str", lambda api: api.runs(HAND, filters="state=x"), "dict"),  # type: ignore[arg-type]
    ("order empty", lambda api: api.runs(HAND, order=""), "order"),
    ("sweeps flag", lambda api: api.runs(HAND, include_sweeps=1), "include_sweeps"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("call", "needle"),
    [(c, n) for _, c, n in API_MISTAKES],
    ids=[i for i, _, _ in API_MISTAKES],
)
def test_api_argument_mistakes_send_nothing(
    quiet_api: tuple[runs_client.Api, Any],
    call: Callable[[runs_client.Api], Any],
    needle: str,
) -> None:
    api, requests = quiet_api
    error = raised(lambda: call(api), InvalidArgumentError)
    assert needle in str(error)
    assert requests.operations == []


RUN_MISTAKES: list[tuple[str, Callable[[runs_client.Run], Any], str]] = [
    ("keys str", lambda run: run.history(keys="loss"), "list of strings"),  # type: ignore[call-overload]
    ("keys ints", lambda run: run.history(keys=[1]), "list of strings"),  # type: ignore[list-item]
    ("samples 0", lambda run: run.history(samples=0), "samples"),
    ("stream", lambda run: run.history(stream="gpu"), "'system'"),  # type: ignore[call-overload]
    (
        "keys+system",
        lambda run: run.history(keys=["loss"], stream="system"),
        "stream='system'",
    ),
    ("x_axis", lambda run: run.history(x_axis=""), "x_axis"),
    ("page_size", lambda run: list(run.scan_history(page_size=0)), "page_size"),
    ("min_step", lambda run: list(run.scan_history(min_step=-1)), "min_step"),
    ("scan keys", lambda run: list(run.scan_history(keys="loss")), "list of strings"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("call", "needle"),
    [(c, n) for _, c, n in RUN_MISTAKES],
    ids=[i for i, _, _ in RUN_MISTAKES],
)
def test_history_argument_mistakes_send_nothing(
    quiet_api: tuple[runs_client.Api, Any],
    call: Callable[[runs_client.Run], Any],
    needle: str,
) -> None:
    api, requests = quiet_api
    run = api.run(f"{HAND}/{SPECS[0].id}")
    requests.clear()
    error = raised(lambda: call(run), InvalidArgumentError)
    assert needle in str(error)
    assert requests.operations == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"format": "xml"}, "format"),
        ({"keys": ["a"], "stream": "system"}, "stream='system'"),
        ({"keys": "loss"}, "list of strings"),
        ({"samples": -1}, "samples"),
        ({"stream": "gpu"}, "stream"),
    ],
)
def test_histories_argument_mistakes_send_nothing(
    quiet_api: tuple[runs_client.Api, Any], kwargs: dict[str, Any], needle: str
) -> None:
    api, requests = quiet_api
    runs = api.runs(HAND)
    error = raised(lambda: runs.histories(**kwargs), InvalidArgumentError)
    assert needle in str(error)
    assert requests.operations == []


def test_per_page_over_the_server_cap_is_named(api: runs_client.Api) -> None:
    error = raised(lambda: api.runs(HAND, per_page=1001)[0], GraphQLError)
    assert "between 0 and 1000" in str(error)
    assert "lower per_page" in str(error)
    assert len([r.id for r in api.runs(HAND, per_page=1000)]) == len(SPECS)
