"""The ``Run`` type: plain fields from the runs row, history fields per page.

Runs resolved together (a ``project.runs`` page, or one ``project.run``) share
a ``RunPage``. The first node that asks for ``history``, ``sampledHistory``,
``events`` or ``user`` loads that field for every run of the page in one
query; the other nodes read the cached result. The cost of a page is then a
few queries whatever the page size, and never a scan of the project.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import orjson
from ariadne import ObjectType
from graphql import GraphQLError, GraphQLResolveInfo

from runs_server import history
from runs_server.graphql import limits
from runs_server.graphql.context import charged, request_context
from runs_server.graphql.user_fields import looked_up
from runs_server.store import Project, User, jsonrows
from runs_server.writes import buckets


@dataclass
class RunPage:
    project: Project
    read_only: bool
    rows: Sequence[sqlite3.Row]
    cache: dict[tuple[Any, ...], dict[int, Any]] = field(default_factory=dict)
    failed: set[tuple[Any, ...]] = field(default_factory=set)

    @property
    def ids(self) -> list[int]:
        return [int(row["id"]) for row in self.rows]

    def load(
        self, key: tuple[Any, ...], loader: Callable[[], dict[int, Any]]
    ) -> dict[int, Any] | None:
        """The page-wide result for ``key``, computed once per request.

        History fields put their response key (alias) in ``key``: each alias
        returns its rows again, so each loads, and is charged to the row cap,
        on its own.

        When loading failed, the first node carries the error and the others
        resolve to null, so one problem yields one error, not one per run.
        """
        if key in self.failed:
            return None
        if key not in self.cache:
            try:
                self.cache[key] = loader()
            except Exception:
                self.failed.add(key)
                raise
        return self.cache[key]


@dataclass(frozen=True)
class RunNode:
    row: sqlite3.Row
    page: RunPage

    @property
    def id(self) -> int:
        return int(self.row["id"])


run_type = ObjectType("Run")

_COLUMNS = {
    "name": "name",
    "displayName": "display_name",
    "state": "state",
    "systemMetrics": "system_metrics",
    "historyLineCount": "history_line_count",
    "group": "group_name",
    "jobType": "job_type",
    "commit": "commit_hash",
    "host": "host",
    "notes": "notes",
    "description": "description",
    "sweepName": "sweep_name",
    "projectId": "project_id",
    "createdAt": "created_at",
    "heartbeatAt": "heartbeat_at",
    "updatedAt": "updated_at",
}


def _column(column: str) -> Callable[..., Any]:
    def resolve(node: RunNode, info: GraphQLResolveInfo) -> Any:
        return charged(info, node.row[column])

    return resolve


for _field, _col in _COLUMNS.items():
    run_type.set_field(_field, _column(_col))


def storage_id(node: RunNode) -> str:
    """Opaque like W&B's: base64 of ``Run:v1:<run id>:<project>:<entity>``."""
    project = node.page.project
    return buckets.storage_id(node.row["name"], project.name, project.entity)


@run_type.field("id")
def resolve_id(node: RunNode, _info: GraphQLResolveInfo) -> str:
    return storage_id(node)


@run_type.field("tags")
def resolve_tags(node: RunNode, info: GraphQLResolveInfo) -> Any:
    return orjson.loads(charged(info, node.row["tags"]))


@run_type.field("readOnly")
def resolve_read_only(node: RunNode, _info: GraphQLResolveInfo) -> bool:
    return node.page.read_only


@run_type.field("project")
def resolve_project(node: RunNode, _info: GraphQLResolveInfo) -> Project:
    return node.page.project


@run_type.field("historyKeys")
def resolve_history_keys(node: RunNode, info: GraphQLResolveInfo) -> orjson.Fragment:
    # Stored text spliced in as is; -1 means "no history" (an int, so clients
    # computing lastStep + 1 keep working).
    last = node.row["last_step"]
    keys = charged(info, node.row["history_keys"])
    return orjson.Fragment(
        f'{{"lastStep":{-1 if last is None else last},"keys":{keys}}}'
    )


@functools.lru_cache(maxsize=64)
def _cutter(keys: tuple[str, ...]) -> msgspec.json.Decoder[Any] | None:
    """A decoder of a JSON object that keeps only ``keys``, as their text,
    unparsed, and skips the rest without building it (None if msgspec
    cannot name such fields). Cached per key list: listings repeat theirs."""
    fields = [
        (f"f{i}", msgspec.Raw, msgspec.field(default=msgspec.UNSET, name=key))
        for i, key in enumerate(keys)
    ]
    try:
        return msgspec.json.Decoder(msgspec.defstruct("Cut", fields))
    except (TypeError, ValueError):
        return None


def _cut(text: str, keys: list[str]) -> str:
    """``text`` (a JSON object) cut to its top-level ``keys``; any other JSON
    is kept whole."""
    wanted = tuple(dict.fromkeys(keys))
    cutter = _cutter(wanted)
    try:
        if cutter is None:
            raise msgspec.DecodeError("no cutter")
        found = cutter.decode(text)
    except msgspec.DecodeError:  # bare NaN/Infinity tokens, or not an object
        whole = jsonrows.loads(text)
        if not isinstance(whole, dict):
            return text
        return jsonrows.dumps({k: whole[k] for k in wanted if k in whole})
    kept = (
        f"{orjson.dumps(key).decode()}:{bytes(raw).decode()}"
        for key, raw in zip(wanted, msgspec.structs.astuple(found), strict=True)
        if raw is not msgspec.UNSET
    )
    return "{" + ",".join(kept) + "}"


def _selected(info: GraphQLResolveInfo, text: str, keys: list[str] | None) -> str:
    """``text`` (a JSON object) cut to its top-level ``keys`` when given."""
    return str(charged(info, text if keys is None else _cut(text, keys)))


@run_type.field("config")
def resolve_config(
    node: RunNode, info: GraphQLResolveInfo, keys: list[str] | None = None
) -> str:
    return _selected(info, node.row["config"], keys)


@run_type.field("summaryMetrics")
def resolve_summary_metrics(
    node: RunNode, info: GraphQLResolveInfo, keys: list[str] | None = None
) -> str | None:
    text = node.row["summary_metrics"]
    return None if text is None else _selected(info, text, keys)


@run_type.field("computeSeconds")
def resolve_compute_seconds(node: RunNode, _info: GraphQLResolveInfo) -> int:
    """Seconds from creation to the last heartbeat (0 before the first)."""
    start, beat = node.row["created_at"], node.row["heartbeat_at"]
    if not beat:
        return 0
    seconds = datetime.fromisoformat(beat) - datetime.fromisoformat(start)
    return max(int(seconds.total_seconds()), 0)


@run_type.field("user")
def resolve_user(node: RunNode, info: GraphQLResolveInfo) -> User | None:
    user_id = node.row["user_id"]
    if user_id is None:
        return None
    context = request_context(info)

    def load() -> dict[int, Any]:
        ids = {r["user_id"] for r in node.page.rows if r["user_id"] is not None}
        found = context.store.users.by_ids(sorted(ids))
        return {i: looked_up(u, context.user) for i, u in found.items()}

    users = node.page.load(("user",), load)
    return None if users is None else users.get(user_id)


def _budget(node: RunNode, samples: int | None, span: int | None) -> int:
    """Upper bound of the history rows the page returns, for the row cap."""
    total = 0
    for row in node.page.rows:
        count = int(row["history_line_count"])
        for cap in (samples, span):
            if cap is not None:
                count = min(count, max(cap, 0))
        total += count
    return total


def _span(min_step: int | None, max_step: int | None, *, inclusive: bool) -> int | None:
    """How many steps a window holds at most (None: unbounded)."""
    if min_step is None or max_step is None:
        return None
    return max_step - min_step + (1 if inclusive else 0)


@run_type.field("history")
def resolve_history(
    node: RunNode,
    info: GraphQLResolveInfo,
    samples: int | None = None,
    minStep: int | None = None,
    maxStep: int | None = None,
) -> orjson.Fragment | None:
    context = request_context(info)

    def load() -> dict[int, Any]:
        checked = _checked(history.check_samples, samples)
        span = None if minStep is None or maxStep is None else maxStep - minStep
        context.spend_rows(_budget(node, checked, span))
        return history.fetch_history(
            context.conn,
            node.page.ids,
            samples=checked,
            min_step=minStep,
            max_step=maxStep,
        )

    rows = node.page.load((info.path.key, "history", samples, minStep, maxStep), load)
    return None if rows is None else _encoded(info, rows[node.id])


@run_type.field("sampledHistory")
def resolve_sampled_history(
    node: RunNode, info: GraphQLResolveInfo, specs: list[str]
) -> orjson.Fragment | None:
    context = request_context(info)

    def load() -> dict[int, Any]:
        if len(specs) > limits.MAX_SPECS:
            raise GraphQLError(
                f"sampledHistory takes at most {limits.MAX_SPECS} specs, got "
                f"{len(specs)}: put several keys in one spec, or split the request"
            )
        parsed = [_checked(history.parse_spec, spec) for spec in specs]
        for spec in parsed:
            context.spend_rows(_budget(node, spec.samples, None))
            # Each key's column is decoded whole within the spec's steps,
            # however few rows are kept: charged as read.
            span = _span(spec.min_step, spec.max_step, inclusive=True)
            context.spend_reads(_budget(node, None, span) * len(spec.keys))
        per_spec = [
            history.fetch_sampled(context.conn, node.page.ids, spec) for spec in parsed
        ]
        return {
            run_id: [lists[run_id] for lists in per_spec] for run_id in node.page.ids
        }

    lists = node.page.load((info.path.key, "sampledHistory", tuple(specs)), load)
    if lists is None:
        return None
    # One list per spec; a spec matching nothing is an empty list, so one
    # spec that matches nothing gives [[]], never a bare [].
    return orjson.Fragment(charged(info, b"[" + b",".join(lists[node.id]) + b"]"))


@run_type.field("events")
def resolve_events(
    node: RunNode, info: GraphQLResolveInfo, samples: int | None = None
) -> orjson.Fragment | None:
    context = request_context(info)

    def load() -> dict[int, Any]:
        checked = _checked(history.check_samples, samples)
        # Every row is read before sampling: charged as it is read.
        rows = history.fetch_events(
            context.conn, node.page.ids, samples=checked, charge=context.spend_reads
        )
        context.spend_rows(sum(len(r) for r in rows.values()))
        return rows

    rows = node.page.load((info.path.key, "events", samples), load)
    return None if rows is None else _encoded(info, rows[node.id])


def _encoded(info: GraphQLResolveInfo, rows: list[str] | bytes) -> orjson.Fragment:
    """The list of stored row strings as JSON (or already encoded), spliced
    into the response as is (see ``runs_server.graphql.execution``), charged
    to the byte cap."""
    context = request_context(info)
    if isinstance(rows, bytes):
        context.spend_bytes(len(rows))
        return orjson.Fragment(rows)
    context.spend_bytes(sum(len(r) + 4 for r in rows))
    return orjson.Fragment(history.compact(orjson.dumps(rows)))


def _checked(check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise GraphQLError(str(exc)) from None


@run_type.field("parquetHistory")
def resolve_parquet_history(
    node: RunNode, info: GraphQLResolveInfo, liveKeys: list[str]
) -> dict[str, Any]:
    """Links to the run's history as Parquet (see ``runs_server.history.parquet``).

    The file holds every row the store holds now, so no row is live:
    ``liveData`` is empty whatever ``liveKeys`` asks for.
    """
    context = request_context(info)
    if context.exports is None or not context.base_url:
        raise GraphQLError(
            "parquetHistory is not served by this server configuration; read "
            "history with history(minStep:, maxStep:) or sampledHistory"
        )
    row = node.row
    # Building reads and holds every value of the run: charged as rows
    # returned and as values read (rows x keys), so no export is built for a
    # run over the row cap (1,000,000 rows) or the read cap (20,000,000 values).
    rows = int(row["history_line_count"])
    context.spend_rows(rows)
    keys = len(orjson.loads(row["history_keys"] or "{}"))
    context.spend_reads(rows * max(keys, 1))
    export = context.exports.ensure(
        context.conn,
        node.id,
        int(row["history_line_count"]),
        row["last_step"],
    )
    url = context.base_url + context.exports.signed_path(export)
    return {"parquetUrls": [url], "liveData": []}
