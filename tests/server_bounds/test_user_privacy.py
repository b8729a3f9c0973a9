# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Issue 17 item 11: a user lookup shows email, admin flag and teams only to
an admin or to that user itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ariadne import graphql_sync

from runs_server.graphql.context import RequestContext
from runs_server.graphql.schema import executable_schema
from runs_server.store import Store
from runs_server.store.users import User

LOOKUP = '{ users(query: "%s") { edges { node { username email admin teams { edges { node { name } } } } } } }'
PROJECT_USER = '{ project(name: "p", entityName: "alice") { user { username email admin teams { edges { node { name } } } } } }'


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(":memory:")
    store.users.create("alice", email="alice@example.com", teams=["lab"])
    store.users.create("bob", email="bob@example.com")
    store.users.create("root", email="root@example.com", admin=True)
    store.projects.create("alice", "p")
    yield store
    store.close()


def ask(store: Store, viewer: str | None, query: str) -> Any:

    user: User | None = None if viewer is None else store.users.by_name(viewer)
    context = RequestContext(store, user)
    try:
        ok, result = graphql_sync(
            executable_schema(), {"query": query}, context_value=context
        )
    finally:
        context.close()
    assert ok and "errors" not in result, result
    return result["data"]


def alice(data: Any) -> Any:
    (edge,) = data["users"]["edges"]
    return edge["node"]


HIDDEN = {"username": "alice", "email": None, "admin": None, "teams": {"edges": []}}
SHOWN = {
    "username": "alice",
    "email": "alice@example.com",
    "admin": False,
    "teams": {"edges": [{"node": {"name": "alice"}}, {"node": {"name": "lab"}}]},
}


@pytest.mark.parametrize("viewer", ["bob", None])
def test_another_user_sees_only_the_name(store: Store, viewer: str | None) -> None:
    assert alice(ask(store, viewer, LOOKUP % "alice")) == HIDDEN
    assert ask(store, viewer, PROJECT_USER)["project"]["user"] == HIDDEN


@pytest.mark.parametrize("viewer", ["alice", "root"])
def test_the_user_itself_and_admins_see_everything(store: Store, viewer: str) -> None:
    assert alice(ask(store, viewer, LOOKUP % "alice")) == SHOWN
    assert ask(store, viewer, PROJECT_USER)["project"]["user"] == SHOWN


def test_an_admin_is_not_revealed_to_others(store: Store) -> None:
    (edge,) = ask(store, "bob", LOOKUP % "root")["users"]["edges"]
    assert edge["node"]["admin"] is None and edge["node"]["email"] is None
