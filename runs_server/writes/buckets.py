"""Runs created, changed, stopped and deleted (W&B calls a run a bucket).

The write rule: a write needs a user (on an open loopback server any
well-formed key, or none, acts as the demo user) who is a member of the run's
entity, or an admin. A project is created on its first write, as on W&B.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runs_server.store import Project, Store, User, jsonrows
from runs_server.writes.errors import WriteError
from runs_server.writes.names import checked_name

DEFAULT_PROJECT = "uncategorized"  # where W&B puts runs that name no project

# upsertBucket's input fields and the run columns they set.
_TEXT_FIELDS = {
    "displayName": "display_name",
    "groupName": "group_name",
    "jobType": "job_type",
    "commit": "commit_hash",
    "host": "host",
    "notes": "notes",
    "description": "description",
    "sweep": "sweep_name",
    "state": "state",
}
STATES = frozenset(
    {"running", "pending", "finished", "failed", "crashed", "killed", "preempted"}
)


@dataclass(frozen=True)
class RunRef:
    """A run the write path found: its storage (row) id, project and run id."""

    id: int
    project: Project
    name: str


def storage_id(name: str, project: str, entity: str) -> str:
    """Opaque like W&B's: base64 of ``Run:v1:<run id>:<project>:<entity>``."""
    return base64.b64encode(f"Run:v1:{name}:{project}:{entity}".encode()).decode()


def parse_storage_id(value: object) -> tuple[str, str, str]:
    """(entity, project, run id) of a storage id, or a 400 saying what it is."""
    text = ""
    if isinstance(value, str):
        try:
            text = base64.b64decode(value.encode("ascii"), validate=True).decode()
        except (ValueError, UnicodeError, binascii.Error):
            text = ""
    prefix, _, rest = text.partition("Run:v1:")
    name, _, place = rest.partition(":")
    project, _, entity = place.rpartition(":")
    if prefix or not (name and project and entity):
        raise WriteError(
            400, f"{value!r:.80} is not a run's id; pass Run.id as the server gave it"
        )
    return entity, project, name


def check_writer(store: Store, user: User | None, entity: str) -> User:
    """``user`` if they may write into ``entity``; else a 401 or 403."""
    if user is None:
        raise WriteError(
            401,
            "writes need the API key of a member of the entity (this server "
            "has no user to act as: add one, or start it with --demo)",
        )
    if user.admin or user.entity == entity or entity in store.users.entities(user.id):
        return user
    raise WriteError(
        403,
        f"user {user.username!r} is not a member of entity {entity!r}; write "
        f"into one of theirs (e.g. {user.entity!r}) or use a member's API key",
    )


def find_run(
    store: Store, user: User | None, entity: str, project: str, name: str
) -> RunRef:
    """Run ``entity/project/name`` if ``user`` may write it; else 403 or 404."""
    check_writer(store, user, entity)
    found = store.projects.find(entity, project)
    if found is not None:
        with store.lock:
            row = store.conn.execute(
                "SELECT id FROM runs WHERE project_id=? AND name=?", (found.id, name)
            ).fetchone()
        if row is not None:
            return RunRef(int(row[0]), found, name)
    raise WriteError(
        404, f"no run {entity}/{project}/{name}; create it first (upsertBucket)"
    )


def run_by_storage_id(store: Store, user: User | None, value: object) -> RunRef:
    entity, project, name = parse_storage_id(value)
    return find_run(store, user, entity, project, name)


def _json_object(value: object, what: str) -> dict[str, Any]:
    try:
        parsed = jsonrows.loads(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise WriteError(
            400, f"{what} must be a JSON object in a string, got {value!r:.80}"
        )
    return parsed


def _columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The run columns an upsertBucket input sets (fields given as null stay)."""
    columns: dict[str, Any] = {
        column: fields[name]
        for name, column in _TEXT_FIELDS.items()
        if fields.get(name) is not None
    }
    state = columns.get("state")
    if state is not None and state not in STATES:
        raise WriteError(400, f"state {state!r} is not one of {sorted(STATES)}")
    if fields.get("config") is not None:
        columns["config"] = _json_object(fields["config"], "config")
    if fields.get("summaryMetrics") is not None:
        columns["summary_metrics"] = _json_object(
            fields["summaryMetrics"], "summaryMetrics"
        )
    if fields.get("tags") is not None:
        columns["tags"] = list(fields["tags"])
    return columns


def upsert_bucket(
    store: Store, user: User | None, fields: Mapping[str, Any]
) -> tuple[RunRef, bool]:
    """Create or update a run from an ``UpsertBucketInput``; (run, created)."""
    columns = _columns(fields)
    with store.transaction():
        if fields.get("id") is not None:
            run = run_by_storage_id(store, user, fields["id"])
            store.upserts.update(run.id, columns)
            return run, False
        writer = user if user is not None else check_writer(store, user, "")
        entity = checked_name(fields.get("entityName") or writer.entity, "entity")
        project = checked_name(fields.get("modelName") or DEFAULT_PROJECT, "project")
        name = checked_name(fields.get("name") or secrets.token_hex(4), "run id")
        check_writer(store, writer, entity)
        found = store.projects.find(entity, project)
        if found is None:
            store.projects.create(entity, project)
            found = store.projects.find(entity, project)
            assert found is not None
        run_id, inserted = store.upserts.upsert(
            found.id, name, columns, user_id=writer.id, username=writer.username
        )
        return RunRef(run_id, found, name), inserted


def delete_run(store: Store, user: User | None, value: object) -> None:
    with store.transaction():
        store.runs.delete(run_by_storage_id(store, user, value).id)


def stop_run(store: Store, user: User | None, value: object) -> None:
    with store.transaction():
        store.streams.request_stop(run_by_storage_id(store, user, value).id)
