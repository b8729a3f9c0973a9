"""``Run`` fields of the write path (schema/writes.graphql): stop requests,
exit codes, line counts and tails the SDK resumes from, the config's
``_wandb`` keys, and the run's files with their signed links."""

from __future__ import annotations

import base64
import fnmatch
from typing import Any

import orjson
from ariadne import ObjectType
from graphql import GraphQLError, GraphQLResolveInfo

from runs_server.graphql.context import RequestContext, charged, request_context
from runs_server.graphql.limits import DEFAULT_FIRST, MAX_FIRST
from runs_server.graphql.run_fields import RunNode
from runs_server.store import RunFile, jsonrows
from runs_server.writes import links
from runs_server.writes.limits import TAIL_ROWS

run_write_type = ObjectType("Run")


def _one(context: RequestContext, sql: str, run: int) -> Any:
    row = context.conn.execute(sql, (run,)).fetchone()
    return None if row is None else row[0]


@run_write_type.field("stopped")
def resolve_stopped(node: RunNode, info: GraphQLResolveInfo) -> bool:
    sql = "SELECT stop_requested FROM run_controls WHERE run_id=?"
    return bool(_one(request_context(info), sql, node.id))


@run_write_type.field("exitcode")
def resolve_exitcode(node: RunNode, info: GraphQLResolveInfo) -> int | None:
    sql = "SELECT exitcode FROM run_controls WHERE run_id=?"
    value = _one(request_context(info), sql, node.id)
    return None if value is None else int(value)


@run_write_type.field("logLineCount")
def resolve_log_line_count(node: RunNode, info: GraphQLResolveInfo) -> int:
    sql = "SELECT max(line) + 1 FROM console_lines WHERE run_id=?"
    return int(_one(request_context(info), sql, node.id) or 0)


@run_write_type.field("eventsLineCount")
def resolve_events_line_count(node: RunNode, info: GraphQLResolveInfo) -> int:
    sql = "SELECT count(*) FROM events WHERE run_id=?"
    return int(_one(request_context(info), sql, node.id) or 0)


def _tail(info: GraphQLResolveInfo, sql: str, run: int) -> str:
    rows = [r[0] for r in request_context(info).conn.execute(sql, (run, TAIL_ROWS))]
    return str(charged(info, orjson.dumps(rows[::-1]).decode()))


@run_write_type.field("historyTail")
def resolve_history_tail(node: RunNode, info: GraphQLResolveInfo) -> str:
    sql = "SELECT row FROM history WHERE run_id=? ORDER BY step DESC LIMIT ?"
    return _tail(info, sql, node.id)


@run_write_type.field("eventsTail")
def resolve_events_tail(node: RunNode, info: GraphQLResolveInfo) -> str:
    sql = "SELECT row FROM events WHERE run_id=? ORDER BY seq DESC LIMIT ?"
    return _tail(info, sql, node.id)


@run_write_type.field("wandbConfig")
def resolve_wandb_config(
    node: RunNode, info: GraphQLResolveInfo, keys: list[str] | None = None
) -> str:
    config = jsonrows.loads(node.row["config"])
    wrapped = config.get("_wandb") if isinstance(config, dict) else None
    value = wrapped.get("value") if isinstance(wrapped, dict) else None
    if not isinstance(value, dict):
        return "{}"
    picked = value if keys is None else {k: value[k] for k in keys if k in value}
    return str(charged(info, jsonrows.dumps(picked)))


def file_node(context: RequestContext, file: RunFile) -> dict[str, Any]:
    """A ``File`` object; its links are signed for reading."""
    url = context.base_url + links.signed_path(
        context.store, links.Link(file.run_id, file.name, "get")
    )
    return {
        "id": base64.b64encode(f"File:{file.id}".encode()).decode(),
        "name": file.name,
        "url": url,
        "directUrl": url,
        "sizeBytes": file.size_bytes,
        "mimetype": None,
        "updatedAt": file.updated_at,
        "md5": file.md5,
        "uploadUrl": None,
    }


_FILES_SELECT = (
    "SELECT id, run_id, name, size_bytes, md5, updated_at, 1 FROM run_files "
    "WHERE run_id=? AND content IS NOT NULL "
)


@run_write_type.field("fileCount")
def resolve_file_count(node: RunNode, info: GraphQLResolveInfo) -> int:
    sql = "SELECT count(*) FROM run_files WHERE run_id=? AND content IS NOT NULL"
    return int(_one(request_context(info), sql, node.id) or 0)


def _after(after: str | None) -> int:
    if not after:
        return 0
    try:
        text = base64.b64decode(after.encode("ascii"), validate=True).decode()
    except (ValueError, UnicodeError):
        text = ""
    kind, _, number = text.partition(":")
    if kind != "File" or not number.isdigit():
        raise GraphQLError(
            f"malformed cursor {after[:40]!r}; pass the endCursor of the previous page"
        )
    return int(number)


@run_write_type.field("files")
def resolve_files(
    node: RunNode,
    info: GraphQLResolveInfo,
    names: list[str] | None = None,
    after: str | None = None,
    first: int | None = None,
    pattern: str | None = None,
) -> dict[str, Any]:
    """Uploaded files by id (upload order), ``names`` or a glob ``pattern``
    picking some; pages of ``first`` (default 50, at most 1,000)."""
    context = request_context(info)
    size = DEFAULT_FIRST if first is None else first
    if not 0 <= size <= MAX_FIRST:
        raise GraphQLError(f"first must be between 0 and {MAX_FIRST} files per page")
    rows = context.conn.execute(
        _FILES_SELECT + "AND id > ? ORDER BY id", (node.id, _after(after))
    )
    picked: list[RunFile] = []
    for r in rows:
        name = str(r[2])
        if (names and name not in names) or (
            pattern and not fnmatch.fnmatchcase(name, pattern)
        ):
            continue
        picked.append(RunFile(r[0], r[1], name, r[3], r[4], r[5], True))
        if len(picked) > size:
            break
    shown = picked[:size]
    edges = [{"node": file_node(context, f), "cursor": _cursor(f)} for f in shown]
    return {
        "edges": edges,
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": len(picked) > size,
            "hasPreviousPage": False,
        },
    }


def _cursor(file: RunFile) -> str:
    return base64.b64encode(f"File:{file.id}".encode()).decode()
