"""Resolvers of ``Query``, ``User``, ``Project``, the runs connection and ``Sweep``."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ariadne import ObjectType, QueryType
from graphql import GraphQLError, GraphQLResolveInfo

from runs_server import listing
from runs_server.graphql import paging, user_fields
from runs_server.graphql.context import RequestContext, charged, request_context
from runs_server.graphql.limits import DEFAULT_FIRST, MAX_FIRST
from runs_server.graphql.run_fields import RunNode, RunPage
from runs_server.graphql.run_keys import project_keys_type
from runs_server.store import Project, User, jsonrows

query_type = QueryType()
project_type = ObjectType("Project")
connection_type = ObjectType("RunConnection")
edge_type = ObjectType("RunEdge")
sweep_type = ObjectType("Sweep")


def _listing(sql: listing.SqlQuery, context: RequestContext) -> sqlite3.Cursor:
    return context.conn.execute(sql.sql, sql.params)


def _user_error(exc: ValueError) -> GraphQLError:
    return GraphQLError(str(exc))


# -- Query ------------------------------------------------------------------


@query_type.field("viewer")
def resolve_viewer(
    _root: Any, info: GraphQLResolveInfo, entityName: str | None = None
) -> User | None:
    return user_fields.viewer(info, entityName)


@query_type.field("users")
def resolve_users(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return user_fields.users(info, **args)


@query_type.field("serverInfo")
def resolve_server_info(_root: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    # The Arrow endpoint beside /graphql (``http.columnar_endpoint``); clients
    # that do not know the name ignore it, W&B's among them. Offered only when
    # the served schema has the fields it stands for (a --schema without
    # sampledHistory must be read as that schema says).
    run = info.schema.get_type("Run")
    fields = getattr(run, "fields", {})
    offered = {"history", "sampledHistory", "events"} <= set(fields)
    return {
        "latestLocalVersionInfo": None,
        "features": [{"name": "columnarHistory", "isEnabled": offered}],
        # runs_server only: clients size listing pages up to it.
        "maxPageSize": MAX_FIRST,
    }


@query_type.field("models")
def resolve_models(
    _root: Any,
    info: GraphQLResolveInfo,
    entityName: str | None = None,
    after: str | None = None,
    first: int | None = None,
) -> dict[str, Any] | None:
    context = request_context(info)
    entity = entityName or (context.user.entity if context.user else None)
    if not entity:
        return None
    size = paging.page_size(first, "projects")
    rows = context.conn.execute(
        "SELECT projects.name FROM projects JOIN entities "
        "ON entities.id=projects.entity_id WHERE entities.name=? AND projects.id>? "
        "ORDER BY projects.id",
        (entity, paging.after_id(after, "Project")),
    ).fetchall()
    projects: list[Project] = []
    for row in rows:
        project = context.store.projects.find(entity, row[0])
        # Unreadable projects are left out, as project() hides them.
        if project is not None and context.store.projects.can_read(
            context.user, project
        ):
            projects.append(project)
            if len(projects) > size:
                break
    return paging.connection(projects, [p.id for p in projects], size, "Project")


@query_type.field("project")
def resolve_project(
    _root: Any,
    info: GraphQLResolveInfo,
    name: str | None = None,
    entityName: str | None = None,
) -> Project | None:
    context = request_context(info)
    entity = entityName or (context.user.entity if context.user else None)
    if not name or not entity:
        return None
    project = context.store.projects.find(entity, name)
    # An unreadable project looks missing: its existence is not revealed.
    if project is None or not context.store.projects.can_read(context.user, project):
        return None
    return project


# -- Project ----------------------------------------------------------------


def _read_only(context: RequestContext, project: Project) -> bool:
    user = context.user
    if user is None:
        return True
    if user.admin or user.entity_id == project.entity_id:
        return False
    return project.entity not in context.store.users.entities(user.id)


@project_type.field("id")
def resolve_project_id(project: Project, _info: GraphQLResolveInfo) -> str:
    return paging.b64(f"Project:v1:{project.name}:{project.entity}")


@project_type.field("internalId")
def resolve_internal_id(project: Project, _info: GraphQLResolveInfo) -> str:
    return str(project.id)


@project_type.field("entityName")
def resolve_entity_name(project: Project, _info: GraphQLResolveInfo) -> str:
    return project.entity


@project_type.field("createdAt")
def resolve_project_created(project: Project, _info: GraphQLResolveInfo) -> str:
    return project.created_at


@project_type.field("entity")
def resolve_project_entity(
    project: Project, info: GraphQLResolveInfo
) -> dict[str, Any]:
    personal = user_fields.is_personal(request_context(info), project.entity_id)
    return user_fields.entity_node(project.entity, personal=personal)


@project_type.field("updatedAt")
def resolve_project_updated(project: Project, info: GraphQLResolveInfo) -> str:
    """The latest change of any run, or the project's creation when later."""
    row = (
        request_context(info)
        .conn.execute(
            "SELECT max(coalesce(updated_at, heartbeat_at, created_at)) FROM runs "
            "WHERE project_id=?",
            (project.id,),
        )
        .fetchone()
    )
    return max(project.created_at, row[0] or "")


@project_type.field("readOnly")
def resolve_project_read_only(project: Project, info: GraphQLResolveInfo) -> bool:
    return _read_only(request_context(info), project)


def _count(context: RequestContext, project: Project, filters: str | None) -> int:
    try:
        sql = listing.count_runs(project.id, filters)
    except ValueError as exc:
        raise _user_error(exc) from None
    return int(_listing(sql, context).fetchone()[0])


@project_type.field("runCount")
def resolve_run_count(
    project: Project, info: GraphQLResolveInfo, filters: str | None = None
) -> int:
    return _count(request_context(info), project, filters)


@project_type.field("isBenchmark")
def resolve_is_benchmark(_project: Project, _info: GraphQLResolveInfo) -> bool:
    return False


@project_type.field("user")
def resolve_project_user(project: Project, info: GraphQLResolveInfo) -> User | None:
    context = request_context(info)
    store = context.store
    row = context.conn.execute(
        "SELECT username FROM users WHERE entity_id=? ORDER BY id LIMIT 1",
        (project.entity_id,),
    ).fetchone()
    user = None if row is None else store.users.by_name(row[0])
    return None if user is None else user_fields.looked_up(user, context.user)


@project_type.field("totalSweeps")
def resolve_total_sweeps(project: Project, info: GraphQLResolveInfo) -> int:
    row = (
        request_context(info)
        .conn.execute("SELECT count(*) FROM sweeps WHERE project_id=?", (project.id,))
        .fetchone()
    )
    return int(row[0])


_SWEEP_SELECT = (
    "SELECT sweeps.*, (SELECT count(*) FROM runs WHERE runs.project_id="
    "sweeps.project_id AND runs.sweep_name=sweeps.name) AS run_count FROM sweeps "
)


@project_type.field("sweeps")
def resolve_sweeps(
    project: Project,
    info: GraphQLResolveInfo,
    filters: str | None = None,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    if (filters or "").strip() not in ("", "{}", "null"):
        raise GraphQLError(
            "sweeps(filters:) is not supported by this server: pass {} (or "
            "nothing) and select sweeps by name with project.sweep(sweepName:)"
        )
    if (order or "").strip() not in ("", "+created_at", "created_at", "createdAt"):
        raise GraphQLError(
            "sweeps(order:) accepts only +created_at here (sweeps come in the "
            "order they were created)"
        )
    size = paging.page_size(first, "sweeps")
    rows = (
        request_context(info)
        .conn.execute(
            _SWEEP_SELECT + "WHERE project_id=? AND id>? ORDER BY id LIMIT ?",
            (project.id, paging.after_id(after, "Sweep"), size + 1),
        )
        .fetchall()
    )
    connection = paging.connection(rows, [int(r["id"]) for r in rows], size, "Sweep")
    connection["totalCount"] = resolve_total_sweeps(project, info)
    return connection


@project_type.field("allViews")
def resolve_all_views(
    _project: Project, _info: GraphQLResolveInfo, **_args: Any
) -> dict[str, Any]:
    """No views (reports) are stored: an empty page, so api.reports() lists none."""
    connection = paging.connection([], [], 0, "View")
    connection["totalCount"] = 0
    return connection


@dataclass
class RunConnection:
    page: RunPage
    filters: str | None
    order: str | None
    has_next: bool
    has_previous: bool


@project_type.field("runs")
def resolve_runs(
    project: Project,
    info: GraphQLResolveInfo,
    filters: str | None = None,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
    before: str | None = None,
    last: int | None = None,
) -> RunConnection:
    if before is not None or last is not None:
        raise GraphQLError(
            "runs(before:, last:) are not supported: page forward with first "
            "and after (the previous page's endCursor)"
        )
    size = DEFAULT_FIRST if first is None else first
    if not 0 <= size <= MAX_FIRST:
        raise GraphQLError(
            f"first must be between 0 and {MAX_FIRST} runs per page, got {size}: "
            "lower per_page"
        )
    context = request_context(info)
    context.check()
    try:
        sql = listing.page_runs(project.id, filters, order, after, size)
    except ValueError as exc:
        raise _user_error(exc) from None
    rows = _listing(sql, context).fetchall()
    page = RunPage(project, _read_only(context, project), rows[:size])
    return RunConnection(page, filters, order, len(rows) > size, bool(after))


@project_type.field("run")
def resolve_run(
    project: Project, info: GraphQLResolveInfo, name: str
) -> RunNode | None:
    context = request_context(info)
    row = context.conn.execute(
        "SELECT * FROM runs WHERE project_id=? AND name=?", (project.id, name)
    ).fetchone()
    if row is None:
        return None
    return RunNode(row, RunPage(project, _read_only(context, project), [row]))


@project_type.field("sweep")
def resolve_sweep(
    project: Project,
    info: GraphQLResolveInfo,
    sweepName: str,
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = (
        request_context(info)
        .conn.execute(
            _SWEEP_SELECT + "WHERE project_id=? AND name=?", (project.id, sweepName)
        )
        .fetchone()
    )
    return row


# -- the runs connection ------------------------------------------------------


@connection_type.field("edges")
def resolve_edges(
    connection: RunConnection, _info: GraphQLResolveInfo
) -> list[tuple[RunNode, RunConnection]]:
    return [(RunNode(row, connection.page), connection) for row in connection.page.rows]


@edge_type.field("node")
def resolve_edge_node(
    edge: tuple[RunNode, RunConnection], _info: GraphQLResolveInfo
) -> RunNode:
    return edge[0]


@edge_type.field("cursor")
def resolve_edge_cursor(
    edge: tuple[RunNode, RunConnection], info: GraphQLResolveInfo
) -> str:
    node, connection = edge
    return str(charged(info, listing.cursor_for(connection.order, node.row)))


@connection_type.field("pageInfo")
def resolve_page_info(
    connection: RunConnection, _info: GraphQLResolveInfo
) -> dict[str, Any]:
    rows = connection.page.rows
    return {
        "startCursor": listing.cursor_for(connection.order, rows[0]) if rows else None,
        "endCursor": listing.cursor_for(connection.order, rows[-1]) if rows else None,
        "hasNextPage": connection.has_next,
        "hasPreviousPage": connection.has_previous,
    }


@connection_type.field("totalCount")
def resolve_total_count(connection: RunConnection, info: GraphQLResolveInfo) -> int:
    return _count(request_context(info), connection.page.project, connection.filters)


# -- Sweep ------------------------------------------------------------------

_SWEEP_COLUMNS = {
    "name": "name",
    "displayName": "display_name",
    "description": "description",
    "bestLoss": "best_loss",
    "runCount": "run_count",
    "runCountExpected": "run_count_expected",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}


def _sweep_column(column: str) -> Any:
    def resolve(row: sqlite3.Row, _info: GraphQLResolveInfo) -> Any:
        return row[column]

    return resolve


for _field, _col in _SWEEP_COLUMNS.items():
    sweep_type.set_field(_field, _sweep_column(_col))


# W&B's Sweep.method, state and config are non-null; the store may hold a
# sweep without them (a loader line that named none).
@sweep_type.field("method")
def resolve_sweep_method(row: sqlite3.Row, _info: GraphQLResolveInfo) -> str:
    if row["method"]:
        return str(row["method"])
    try:
        config = jsonrows.loads(row["config"] or "{}")
    except ValueError:
        return ""
    method = config.get("method") if isinstance(config, dict) else None
    return method if isinstance(method, str) else ""


@sweep_type.field("state")
def resolve_sweep_state(row: sqlite3.Row, _info: GraphQLResolveInfo) -> str:
    return str(row["state"] or "")


@sweep_type.field("config")
def resolve_sweep_config(row: sqlite3.Row, _info: GraphQLResolveInfo) -> str:
    return str(row["config"] or "{}")


@sweep_type.field("id")
def resolve_sweep_id(row: sqlite3.Row, _info: GraphQLResolveInfo) -> str:
    return paging.b64(f"Sweep:{row['id']}")


BINDABLES = [
    query_type,
    user_fields.user_type,
    user_fields.entity_type,
    project_type,
    project_keys_type,
    connection_type,
    edge_type,
    sweep_type,
]
