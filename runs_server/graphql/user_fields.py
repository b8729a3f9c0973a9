"""``Query.viewer``, ``Query.users``, and the ``User`` and ``Entity`` types.

``viewer`` is the caller's own record. A user found by a lookup (``users``,
``Project.user``, ``Run.user``) is shown through ``looked_up``: never its API
key, and its email, admin flag and teams only to an admin or to that user
itself, so that any key cannot list who is admin or harvest emails.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

from ariadne import ObjectType
from graphql import GraphQLError, GraphQLResolveInfo

from runs_server.graphql import paging
from runs_server.graphql.context import RequestContext, request_context
from runs_server.graphql.limits import MAX_FIRST
from runs_server.store import User

user_type = ObjectType("User")
entity_type = ObjectType("Entity")


@dataclasses.dataclass(frozen=True)
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


def viewer(info: GraphQLResolveInfo, entityName: str | None = None) -> User | None:
    """The caller. ``entityName`` (which team's view of the user W&B answers
    for) changes nothing here: the fields we serve are the same for every entity."""
    del entityName
    return request_context(info).user


def _user_ids(ids: list[str]) -> list[int]:
    numbers = []
    for value in ids:
        try:
            text = base64.b64decode(value.encode("ascii"), validate=True).decode()
        except (ValueError, UnicodeError, binascii.Error):
            text = ""
        kind, _, number = text.partition(":")
        if kind != "User" or not number.isdigit():
            raise GraphQLError(
                f"users(ids:) takes User ids as viewer {id} gives them; got "
                f"{value[:40]!r}"
            )
        numbers.append(int(number))
    return numbers


def users(
    info: GraphQLResolveInfo,
    query: str | None = None,
    before: str | None = None,
    after: str | None = None,
    first: int | None = None,
    last: int | None = None,
    usernames: list[str] | None = None,
    ids: list[str] | None = None,
) -> dict[str, Any]:
    """Users matching every condition given, exact username or email matches
    of ``query`` first; with no condition, none (the store's users are not listed)."""
    paging.forward_only("users", before, last)
    size = paging.page_size(first, "users")
    text = (query or "").strip().lower()
    if not text and usernames is None and ids is None:
        return paging.connection([], [], size, "User")
    where: list[str] = ["1=1"]
    params: list[object] = []
    if text:
        where.append(
            "(instr(lower(username), ?) > 0 OR instr(lower(IFNULL(email, '')), ?) > 0)"
        )
        params += [text, text]
    for column, values in (("username", usernames), ("id", ids and _user_ids(ids))):
        if values is not None:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params += list(values)
    # The rank puts exact matches first (what api.user(query) takes); the
    # cursor holds (rank, id), so pages stay in that order.
    rank = (
        "(CASE WHEN lower(username) = ? OR lower(IFNULL(email, '')) = ? "
        "THEN 0 ELSE 1 END)"
    )
    key = paging.cursor_key(after, "User")
    after_rank, _, after_user = (key or "0:0").partition(":")
    if not (after_rank.isdigit() and after_user.isdigit()):
        raise GraphQLError(
            f"malformed cursor {(after or '')[:40]!r}; pass the endCursor of the "
            "previous page"
        )
    context = request_context(info)
    rows = context.conn.execute(
        f"SELECT username, {rank} AS rank, id FROM users WHERE {' AND '.join(where)} "
        f"AND ({rank}, id) > (?, ?) ORDER BY rank, id LIMIT ?",
        (
            text,
            text,
            *params,
            text,
            text,
            int(after_rank),
            int(after_user) if key else -1,
            min(size, MAX_FIRST) + 1,
        ),
    ).fetchall()
    found = []
    for row in rows:
        user = context.store.users.by_name(row["username"])
        if user is not None:
            found.append((looked_up(user, context.user), f"{row['rank']}:{row['id']}"))
    return paging.connection([u for u, _ in found], [k for _, k in found], size, "User")


def _teams(context: RequestContext, user: User) -> list[dict[str, Any]]:
    rows = context.conn.execute(
        "SELECT entities.name, EXISTS (SELECT 1 FROM users WHERE "
        "users.entity_id = entities.id) AS personal FROM memberships JOIN entities "
        "ON entities.id = memberships.entity_id WHERE memberships.user_id = ? "
        "ORDER BY entities.name",
        (user.id,),
    ).fetchall()
    return [entity_node(r[0], personal=bool(r[1])) for r in rows]


def entity_node(name: str, *, personal: bool) -> dict[str, Any]:
    """An ``Entity``: a team unless it is some user's own entity."""
    return {"id": paging.b64(f"Entity:{name}"), "name": name, "isTeam": not personal}


def is_personal(context: RequestContext, entity_id: int) -> bool:
    row = context.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM users WHERE entity_id = ?)", (entity_id,)
    ).fetchone()
    return bool(row[0])


@user_type.field("id")
def resolve_user_id(user: User, _info: GraphQLResolveInfo) -> str:
    return paging.b64(f"User:{user.id}")


@user_type.field("name")
def resolve_user_name(user: User, _info: GraphQLResolveInfo) -> str:
    # W&B's User.name is non-null; a user stored without a name shows its username.
    return user.name or user.username


@user_type.field("email")
def resolve_user_email(user: User, _info: GraphQLResolveInfo) -> str | None:
    return None if isinstance(user, OtherUser) else user.email


@user_type.field("admin")
def resolve_user_admin(user: User, _info: GraphQLResolveInfo) -> bool | None:
    return None if isinstance(user, OtherUser) else user.admin


@user_type.field("photoUrl")
def resolve_user_photo(_user: User, _info: GraphQLResolveInfo) -> None:
    return None  # the store keeps no pictures


@user_type.field("flags")
def resolve_user_flags(_user: User, _info: GraphQLResolveInfo) -> str:
    return "{}"


@user_type.field("teams")
def resolve_user_teams(
    user: User,
    info: GraphQLResolveInfo,
    before: str | None = None,
    after: str | None = None,
    first: int | None = None,
    last: int | None = None,
) -> dict[str, Any]:
    paging.forward_only("teams", before, last)
    size = paging.page_size(first, "teams")
    if isinstance(user, OtherUser):
        return paging.connection([], [], size, "Entity")
    start = paging.cursor_key(after, "Entity")
    teams = [
        t
        for t in _teams(request_context(info), user)
        if start is None or t["name"] > start
    ]
    teams = teams[: size + 1]
    return paging.connection(teams, [t["name"] for t in teams], size, "Entity")


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
    node = {
        "id": paging.b64(f"ApiKey:{user.id}"),
        "name": user.api_key,
        "description": None,
    }
    return {"edges": [{"node": node}]}
