"""Resolvers of ``User``, and what a lookup shows of another user.

``viewer`` is the caller's own record. A user found by a lookup
(``users(query:)``, ``Project.user``) is shown through ``looked_up``: never
its API key, and its email, admin flag and teams only to an admin or to that
user itself, so that any key cannot list who is admin or harvest emails.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from typing import Any

from ariadne import ObjectType
from graphql import GraphQLResolveInfo

from runs_server.graphql.context import request_context
from runs_server.store import User

user_type = ObjectType("User")


@dataclass(frozen=True)
class OtherUser(User):
    """A user as a non-admin caller sees someone else: name and entity only."""


def looked_up(user: User, viewer: User | None) -> User:
    """``user`` as found by ``viewer``'s lookup (see the module's rule)."""
    shown = dataclasses.replace(user, api_key=None)
    if viewer is not None and (viewer.admin or viewer.id == user.id):
        return shown
    return OtherUser(
        **{f.name: getattr(shown, f.name) for f in dataclasses.fields(shown)}
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@user_type.field("id")
def resolve_user_id(user: User, _info: GraphQLResolveInfo) -> str:
    return _b64(f"User:{user.id}")


@user_type.field("email")
def resolve_user_email(user: User, _info: GraphQLResolveInfo) -> str | None:
    return None if isinstance(user, OtherUser) else user.email


@user_type.field("admin")
def resolve_user_admin(user: User, _info: GraphQLResolveInfo) -> bool | None:
    return None if isinstance(user, OtherUser) else user.admin


@user_type.field("flags")
def resolve_user_flags(_user: User, _info: GraphQLResolveInfo) -> str:
    return "{}"


@user_type.field("teams")
def resolve_user_teams(
    user: User, info: GraphQLResolveInfo, first: int | None = None
) -> dict[str, Any]:
    if isinstance(user, OtherUser):
        return {"edges": []}
    names = request_context(info).store.users.entities(user.id)
    if first is not None:
        names = names[: max(first, 0)]
    return {"edges": [{"node": {"id": _b64(f"Entity:{n}"), "name": n}} for n in names]}


@user_type.field("deletedAt")
def resolve_user_deleted_at(_user: User, _info: GraphQLResolveInfo) -> None:
    return None  # the store deletes no users


@user_type.field("apiKeys")
def resolve_user_api_keys(user: User, info: GraphQLResolveInfo) -> dict[str, Any]:
    # A key is shown only to the request that authenticated with that very
    # key: never to a keyless or any-key request on an open server (a web
    # page could read it through DNS rebinding), nor to another user.
    sent = request_context(info).api_key
    if user.api_key is None or sent is None or sent != user.api_key:
        return {"edges": []}
    node = {"id": _b64(f"ApiKey:{user.id}"), "name": user.api_key, "description": None}
    return {"edges": [{"node": node}]}
