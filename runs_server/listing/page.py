"""Which runs, in which order, where pages start: SQL for the runs resolvers.

``count_runs`` and ``page_runs`` share one filter compiler, so a count always
equals the number of runs paging yields. Page queries select the runs
columns (``RUN_COLUMNS``: all but the query copies) and then the sort-key
components as trailing columns ``_sort_key0``, ``_sort_key1``, ... (all named
with the prefix ``SORT_COLUMN_PREFIX``; none for ``order="name"``). Pass a
returned row to ``cursor_for`` for its cursor.

Connections that run these queries need ``install_functions`` (for ``$regex``;
a ``Store``'s connection has it) and ``row_factory = sqlite3.Row`` (for
``cursor_for``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from runs_server.listing.cursors import CursorError, decode_cursor, encode_cursor
from runs_server.listing.errors import ListingError
from runs_server.listing.filters import FilterError, compile_filter
from runs_server.listing.ordering import OrderError, keyset_after, parse_order
from runs_server.listing.regex import install_functions
from runs_server.listing.sql import TRUE, Frag, and_

__all__ = [
    "SORT_COLUMN_PREFIX",
    "CursorError",
    "FilterError",
    "ListingError",
    "OrderError",
    "SqlQuery",
    "count_runs",
    "cursor_for",
    "install_functions",
    "page_runs",
]

SORT_COLUMN_PREFIX = "_sort_key"
# The runs columns a page reads: all but the query copies ``config_q`` and
# ``summary_metrics_q``, which only filters and orders read (in SQL), and
# which would double the bytes fetched and decoded per row.
RUN_COLUMNS = ", ".join(
    f"runs.{c}"
    for c in (
        "id", "project_id", "name", "display_name", "state", "config",
        "summary_metrics", "system_metrics", "tags", "group_name", "job_type",
        "commit_hash", "host", "notes", "description", "sweep_name", "user_id",
        "username", "created_at", "heartbeat_at", "updated_at", "history_keys",
        "history_line_count", "last_step",
    )
)  # fmt: skip


@dataclass(frozen=True)
class SqlQuery:
    """A SQL statement and its parameters, ready for ``conn.execute(sql, params)``."""

    sql: str
    params: tuple[object, ...]


def _where(project_id: int, filters: str | None, *more: Frag) -> Frag:
    return and_(
        [Frag("runs.project_id = ?", (project_id,)), compile_filter(filters), *more]
    )


def count_runs(project_id: int, filters: str | None) -> SqlQuery:
    """``SELECT COUNT(*)`` of the project's runs matching ``filters``.

    Raises FilterError for a malformed filter.
    """
    where = _where(project_id, filters)
    return SqlQuery(f"SELECT COUNT(*) FROM runs WHERE {where.sql}", where.params)


def page_runs(
    project_id: int,
    filters: str | None,
    order: str | None,
    after: str | None,
    first: int,
    columns: str = RUN_COLUMNS,
) -> SqlQuery:
    """One page of the project's runs matching ``filters`` in ``order``.

    Selects ``columns`` (``RUN_COLUMNS``; a caller that needs fewer, such as
    the columnar pages, names them: a run's config and summary can be large)
    plus the trailing ``_sort_keyN`` columns, starting
    strictly after the ``after`` cursor (None or "" = from the start), with
    ``LIMIT first + 1``: an extra row means there is a next page. Raises
    FilterError, OrderError or CursorError (all ValueError) for bad input.
    """
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise ListingError(f"first must be a non-negative integer, got {first!r}")
    sort = parse_order(order)
    keyset = TRUE
    if after:
        values, name = decode_cursor(after, sort)
        keyset = keyset_after(sort, values, name)
    where = _where(project_id, filters, keyset)
    sort_columns = "".join(
        f", {c.expr.sql} AS {SORT_COLUMN_PREFIX}{i}"
        for i, c in enumerate(sort.components)
    )
    column_params = tuple(p for c in sort.components for p in c.expr.params)
    sql = (
        f"SELECT {columns}{sort_columns} FROM runs WHERE {where.sql} "
        f"ORDER BY {sort.order_by()} LIMIT ?"
    )
    return SqlQuery(sql, (*column_params, *where.params, first + 1))


def cursor_for(order: str | None, row: sqlite3.Row) -> str:
    """The opaque cursor of ``row``, a row returned by ``page_runs`` for ``order``."""
    sort = parse_order(order)
    values = tuple(row[f"{SORT_COLUMN_PREFIX}{i}"] for i in range(len(sort.components)))
    return encode_cursor(sort, values, row["name"])
