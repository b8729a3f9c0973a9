"""Entities, users, their API keys and team memberships."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from runs_server.store.database import Database
from runs_server.store.errors import StoreError


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str | None
    email: str | None
    entity_id: int
    entity: str
    api_key: str | None
    admin: bool


def new_api_key() -> str:
    """A 40-character hex key, the shape of a W&B API key."""
    return secrets.token_hex(20)


def entity_id(c: sqlite3.Connection, name: str, *, create: bool) -> int:
    """The id of entity ``name``, created when missing if ``create``."""
    row = c.execute("SELECT id FROM entities WHERE name=?", (name,)).fetchone()
    if row is not None:
        return int(row[0])
    if not create:
        raise StoreError(f"no entity named {name!r}")
    cur = c.execute("INSERT INTO entities (name) VALUES (?)", (name,))
    assert cur.lastrowid is not None
    return cur.lastrowid


class Users:
    """Entities (user and team namespaces), users and keys: ``store.users``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_entity(self, name: str) -> int:
        """Create an entity (a user's or a team's namespace); returns its id."""
        with self._db.transaction() as c:
            return entity_id(c, name, create=True)

    def create(
        self,
        username: str,
        *,
        entity: str | None = None,
        api_key: str | None = None,
        name: str | None = None,
        email: str | None = None,
        admin: bool = False,
        teams: Sequence[str] = (),
    ) -> User:
        """Create a user whose default entity is ``entity`` (or its username).

        A missing ``api_key`` is generated; the entities it names and ``teams``
        are created when missing and the user becomes a member of them.
        """
        key = api_key if api_key is not None else new_api_key()
        entity_name = entity or username
        with self._db.transaction() as c:
            own_entity = entity_id(c, entity_name, create=True)
            cur = c.execute(
                "INSERT INTO users (username, name, email, entity_id, api_key, admin) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (username, name, email, own_entity, key, int(admin)),
            )
            assert cur.lastrowid is not None
            user_id = cur.lastrowid
            for team in (entity_name, *teams):
                c.execute(
                    "INSERT OR IGNORE INTO memberships (user_id, entity_id) "
                    "VALUES (?, ?)",
                    (user_id, entity_id(c, team, create=True)),
                )
        return User(user_id, username, name, email, own_entity, entity_name, key, admin)

    def by_key(self, api_key: str) -> User | None:
        return self._one("users.api_key=?", (api_key,))

    def by_name(self, username: str) -> User | None:
        return self._one("users.username=?", (username,))

    def default(self) -> User | None:
        """Who an unauthenticated caller acts as on an open server: the first user."""
        return self._one("1=1", ())

    def by_ids(self, ids: Sequence[int]) -> dict[int, User]:
        """The users of ``ids`` that exist, by id (one query)."""
        marks = ",".join("?" * len(ids))
        return {u.id: u for u in self._all(f"users.id IN ({marks})", tuple(ids))}

    def _one(self, where: str, params: tuple[object, ...]) -> User | None:
        found = self._all(where, params, limit=1)
        return found[0] if found else None

    def _all(
        self, where: str, params: tuple[object, ...], limit: int = -1
    ) -> list[User]:
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT users.*, entities.name AS entity FROM users "
                f"JOIN entities ON entities.id=users.entity_id WHERE {where} "
                "ORDER BY users.id LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [self._user(row) for row in rows]

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            row["id"],
            row["username"],
            row["name"],
            row["email"],
            row["entity_id"],
            row["entity"],
            row["api_key"],
            bool(row["admin"]),
        )

    def entities(self, user_id: int) -> list[str]:
        """Names of the entities ``user_id`` belongs to, by name."""
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT entities.name FROM memberships JOIN entities "
                "ON entities.id=memberships.entity_id WHERE user_id=? "
                "ORDER BY entities.name",
                (user_id,),
            ).fetchall()
        return [str(r[0]) for r in rows]
