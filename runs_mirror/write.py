"""Writing what the source sent into the copy, through the store's API.

Each function is called inside one ``store.transaction()`` per page by the
mirror loop, so a page is in the copy whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runs_server.store import Store, jsonrows

Node = dict[str, Any]


def ensure_project(store: Store, entity: str, project: str, info: Node) -> None:
    if store.projects.find(entity, project) is None:
        store.projects.create(entity, project, created_at=info.get("createdAt"))


def put_sweep(store: Store, path: str, sweep: Node) -> None:
    store.projects.create_sweep(
        path,
        sweep["name"],
        display_name=sweep.get("displayName"),
        method=sweep.get("method"),
        state=sweep.get("state"),
        description=sweep.get("description"),
        config=sweep.get("config"),
        best_loss=sweep.get("bestLoss"),
        run_count_expected=sweep.get("runCountExpected"),
        created_at=sweep.get("createdAt"),
        updated_at=sweep.get("updatedAt"),
        replace=True,
    )


def _json(text: Any) -> Any:
    """A JSONString field (text, NaN tokens allowed); a decoded value as is."""
    if isinstance(text, (str, bytes)):
        return jsonrows.loads(text) if text else {}
    return text if text is not None else {}


def _plain_config(wrapped: Any) -> dict[str, Any]:
    # W&B serves {"key": {"value": v, "desc": ...}}; the store takes plain values.
    if not isinstance(wrapped, Mapping):
        return {}
    return {
        k: v["value"] if isinstance(v, Mapping) and "value" in v else v
        for k, v in wrapped.items()
    }


def _ensure_user(store: Store, user: Any) -> str | None:
    if not isinstance(user, Mapping) or not user.get("username"):
        return None
    username = str(user["username"])
    if store.users.by_name(username) is None:
        store.users.create(username, name=user.get("name"))
    return username


def put_run(store: Store, path: str, node: Node) -> int:
    """Set run ``node["name"]`` to the source's fields; returns its storage id."""
    return store.runs.put(
        path,
        node["name"],
        display_name=node.get("displayName"),
        state=node.get("state") or "finished",
        config=_plain_config(_json(node.get("config"))),
        summary=_json(node.get("summaryMetrics")),
        system_metrics=_json(node.get("systemMetrics")),
        tags=list(node.get("tags") or ()),
        group=node.get("group"),
        job_type=node.get("jobType"),
        commit=node.get("commit"),
        host=node.get("host"),
        notes=node.get("notes"),
        description=node.get("description"),
        sweep=node.get("sweepName"),
        user=_ensure_user(store, node.get("user")),
        created_at=node.get("createdAt"),
        heartbeat_at=node.get("heartbeatAt"),
        updated_at=node.get("updatedAt"),
    )


def write_first(
    store: Store, path: str, node: Node, *, existed: bool, restart: bool
) -> tuple[int, int, int]:
    """A run's fields, its events (replaced whole) and first history rows.

    Returns (storage id, history rows, event rows) written.
    """
    run = put_run(store, path, node)
    if existed:
        store.history.clear(run, history=restart, events=True)
    events = node.get("events") or []
    written_events = store.history.log_events(run, events) if events else 0
    rows = node.get("history") or []
    written = store.history.log(run, rows, update_summary=False) if rows else 0
    if events:
        put_run(store, path, node)  # log_events set system metrics from events
    return run, written, written_events


def append_rows(store: Store, run: int, rows: list[str]) -> int:
    return store.history.log(run, rows, update_summary=False) if rows else 0
