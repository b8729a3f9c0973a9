"""``Mutation`` (schema/writes.graphql) and the read fields the SDKs ask for
around writes: ``Query.model``, ``Project.entity``, ``Project.bucket``.

Writes go through ``runs_server.writes`` on the store's writer connection;
a payload's run is read back after the write, so it shows what was written.
"""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLError, GraphQLResolveInfo

from runs_server.graphql.context import RequestContext, request_context
from runs_server.graphql.resolvers import resolve_project, resolve_run
from runs_server.graphql.run_fields import RunNode, RunPage
from runs_server.graphql.run_write_fields import file_node
from runs_server.store import Project, StoreWriteError
from runs_server.writes import WriteError, buckets, links
from runs_server.writes.limits import MAX_FILES_PER_CALL
from runs_server.writes.names import checked_file_name

mutation_type = MutationType()
model_query_type = QueryType()
write_project_type = ObjectType("Project")

_CODES = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "TOO_LARGE",
}


def graphql_error(exc: WriteError | StoreWriteError) -> GraphQLError:
    if isinstance(exc, StoreWriteError):  # full, read-only or locked: retry
        return GraphQLError(str(exc), extensions={"code": "STORE_UNAVAILABLE"})
    return GraphQLError(str(exc), extensions={"code": _CODES.get(exc.status, "ERROR")})


def _node(context: RequestContext, run: buckets.RunRef) -> RunNode:
    """The run as it is now (read on the writer connection, after the write)."""
    store = context.store
    with store.lock:
        row = store.conn.execute("SELECT * FROM runs WHERE id=?", (run.id,)).fetchone()
    # Whoever wrote the run may write it: not read-only to them.
    return RunNode(row, RunPage(run.project, False, [row]))


@mutation_type.field("upsertBucket")
def resolve_upsert_bucket(
    _root: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    context = request_context(info)
    try:
        run, inserted = buckets.upsert_bucket(context.store, context.user, input)
    except (WriteError, StoreWriteError) as exc:
        raise graphql_error(exc) from None
    return {
        "bucket": _node(context, run),
        "inserted": inserted,
        "serverSettings": {"serverMessages": []},
        "clientMutationId": input.get("clientMutationId"),
    }


@mutation_type.field("createRunFiles")
def resolve_create_run_files(
    _root: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    context = request_context(info)
    names: list[str] = input["files"]
    try:
        if len(names) > MAX_FILES_PER_CALL:
            raise WriteError(
                400,
                f"createRunFiles names {len(names):,} files; at most "
                f"{MAX_FILES_PER_CALL:,} per call: ask in several calls",
            )
        names = [checked_file_name(n) for n in names]
        run = buckets.find_run(
            context.store,
            context.user,
            input["entityName"],
            input["projectName"],
            input["runName"],
        )
        declared = context.store.files.declare(run.id, names)
    except (WriteError, StoreWriteError) as exc:
        raise graphql_error(exc) from None
    files = []
    for file in declared:
        link = links.Link(run.id, file.name, "put")
        node = file_node(context, file)
        node["uploadUrl"] = context.base_url + links.signed_path(context.store, link)
        files.append(node)
    return {
        "runID": buckets.storage_id(run.name, run.project.name, run.project.entity),
        "uploadHeaders": [],
        "files": files,
        "clientMutationId": input.get("clientMutationId"),
    }


@mutation_type.field("deleteRun")
def resolve_delete_run(
    _root: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    context = request_context(info)
    try:
        buckets.delete_run(context.store, context.user, input["id"])
    except (WriteError, StoreWriteError) as exc:
        raise graphql_error(exc) from None
    return {"clientMutationId": input.get("clientMutationId")}


@mutation_type.field("stopRun")
def resolve_stop_run(
    _root: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    context = request_context(info)
    try:
        buckets.stop_run(context.store, context.user, input["id"])
    except (WriteError, StoreWriteError) as exc:
        raise graphql_error(exc) from None
    return {"success": True, "clientMutationId": input.get("clientMutationId")}


@model_query_type.field("model")
def resolve_model(
    root: Any,
    info: GraphQLResolveInfo,
    name: str | None = None,
    entityName: str | None = None,
) -> Project | None:
    project: Project | None = resolve_project(
        root, info, name=name, entityName=entityName
    )
    return project


@write_project_type.field("bucket")
def resolve_bucket(
    project: Project,
    info: GraphQLResolveInfo,
    name: str,
    missingOk: bool | None = None,
) -> RunNode | None:
    node: RunNode | None = resolve_run(project, info, name)
    if node is None and not missingOk:
        raise GraphQLError(f"no run {name!r} in {project.entity}/{project.name}")
    return node


WRITE_BINDABLES = [mutation_type, model_query_type, write_project_type]
