"""``write_history_dataset``: the histories of any number of runs into a
Parquet dataset partitioned by run, one page of runs at a time.

Built on ``Runs.iter_histories(format="arrow")`` with ``union_schema``'s
column types: a few pages are held at a time (``DATASET_ROW_BUDGET`` rows
each by default), and the schema comes from a listing of the runs' logged
keys read a page at a time keeping only each key's types, so memory stays
flat however many runs there are, and every file has the same columns and
types. Each run's rows go to
``<path>/run_id=<run id>/part-0.parquet`` (hive partitioning: the run id
is the folder name, not a column of the file; ids are percent-encoded where
a path needs it). DuckDB, Spark, Dask, polars
and ``pyarrow.dataset`` read the folder as is, and a query that names runs
opens only their folders.

Writing a run's folder again replaces its file, so an export stopped part-way
is finished by calling again with ``after=`` the ``resume_token`` of the
``IncompleteHistoriesError`` (or of the last result) into the same folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from ._exceptions import InvalidArgumentError, NotFoundError, ServerError
from .history.chunks import Schema
from .history.histories import iter_batches
from .history.pages import HistoryQuery
from .history.run_rows import Stream
from .history.union_schema import add_logged_types, schema_from
from .runs_histories import check_budget
from .transport.jsonio import dumps_compact
from .transport.page_guard import PageGuard

if TYPE_CHECKING:
    import pyarrow as pa

    from .runs import Runs

__all__ = ["DatasetResult", "write_history_dataset", "write_run_partitions"]

RUN_ID = "run_id"
# History rows per request: a page of runs is written file by file as it
# comes, so small pages cost little and keep the pages held (the one being
# written and those in flight) small.
DATASET_ROW_BUDGET = 20_000
# A guard on the schema's listing walk: 10^7 runs at 1,000 per page.
MAX_LISTING_PAGES = 10_000
PART_NAME = "part-0.parquet"


@dataclass(frozen=True)
class DatasetResult:
    """What ``write_history_dataset`` wrote: ``runs`` done (runs with no rows
    included, they get no folder), ``rows``, the Parquet ``files``, and the
    ``resume_token`` after the last page (None when no page came)."""

    path: Path
    runs: int
    rows: int
    files: int
    resume_token: str | None


def write_run_partitions(
    table: pa.Table, path: str | os.PathLike[str], compression: str = "zstd"
) -> int:
    """Write ``table`` (rows with a ``run_id`` column, each run's rows
    together, as ``iter_histories`` gives them) under ``path``, one file per
    run in ``run_id=<id>/`` (the id percent-encoded as hive partitioning
    reads it); returns the files written. One file open at a time."""
    import numpy as np
    import pyarrow.parquet as pq

    if RUN_ID not in table.column_names:
        raise InvalidArgumentError(
            f"the table has no {RUN_ID!r} column to partition by; pass the "
            "tables iter_histories(format='arrow') yields"
        )
    if not table.num_rows:
        return 0
    ids = table.column(RUN_ID).to_numpy(zero_copy_only=False)
    starts = [0, *(np.flatnonzero(ids[1:] != ids[:-1]) + 1).tolist()]
    ends = [*starts[1:], len(ids)]
    rows = table.drop_columns([RUN_ID])
    for start, end in zip(starts, ends, strict=True):
        folder = Path(path) / f"{RUN_ID}={quote(str(ids[start]), safe='')}"
        folder.mkdir(parents=True, exist_ok=True)
        part = rows.slice(start, end - start)
        pq.write_table(part, folder / PART_NAME, compression=compression)
    return len(starts)


def write_history_dataset(
    runs: Runs,
    path: str | os.PathLike[str],
    samples: int = 500,
    keys: list[str] | None = None,
    x_axis: str = "_step",
    *,
    stream: Stream = "default",
    after: str | None = None,
    rows_per_request: int = DATASET_ROW_BUDGET,
    progress: bool | None = None,
    compression: str = "zstd",
) -> DatasetResult:
    """The histories of ``runs`` (``histories()``' arguments) into a Parquet
    dataset at ``path`` partitioned by run; see the module's docstring.

    Read it back with, e.g., ``duckdb.sql("SELECT * FROM
    read_parquet('PATH/*/*.parquet', hive_partitioning = true)")`` or
    ``pyarrow.dataset.dataset(PATH, partitioning="hive")``.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InvalidArgumentError(
            f"{folder} is a file; write_history_dataset writes a folder: pass a "
            "folder path (it is created when missing)"
        )
    check_budget(rows_per_request)
    folder.mkdir(parents=True, exist_ok=True)
    done = rows = files = 0
    token: str | None = None
    batches: Any = iter_batches(
        runs, samples, keys, x_axis, "arrow", stream, join="and",
        union_schema_=True, after=after, progress=progress,
        rows_per_request=rows_per_request,
        schema=lambda query: _listed_schema(runs, query),
    )  # fmt: skip
    for batch in batches:
        files += write_run_partitions(batch.data, folder, compression)
        done += len(batch.run_ids)
        rows += batch.num_rows
        token = batch.resume_token
    return DatasetResult(folder, done, rows, files, token)


LISTING_QUERY = """query RunTypesPage($entity: String!, $project: String!,
  $cursor: String, $perPage: Int, $order: String, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges { node { name historyKeys systemMetrics } }
      pageInfo { endCursor hasNextPage }
    }
  }
}"""
LISTING_PAGE = 1000  # runs per listing request: the server's page cap


@dataclass(frozen=True)
class _Logged:
    """What ``union_schema`` reads of a run."""

    history_keys: dict[str, Any]
    system_metrics: dict[str, Any]


def _object(value: Any) -> dict[str, Any]:
    """A JSON object field, sent as an object or as JSON text."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _listed_schema(runs: Runs, query: HistoryQuery) -> Schema:
    """``union_schema``'s schema from a listing of ``runs``' query (names,
    ``historyKeys`` and ``systemMetrics`` only) read a page at a time, only
    each key's types kept: no run is held, so memory does not grow with the
    number of runs."""
    client = runs.client
    where = f"run listing for {runs.entity}/{runs.project}"
    guard = PageGuard(where, LISTING_PAGE)
    variables: dict[str, Any] = {
        "entity": runs.entity,
        "project": runs.project,
        "perPage": LISTING_PAGE,
        "order": runs.order,
        "filters": dumps_compact(runs.filters) if runs.filters else None,
    }
    types: dict[str, set[str]] = {}
    cursor = None
    for _ in range(MAX_LISTING_PAGES):
        asked = {
            k: v for k, v in {**variables, "cursor": cursor}.items() if v is not None
        }
        response = client.execute(LISTING_QUERY, "RunTypesPage", asked)
        project = client.get_data(response).get("project")
        if not isinstance(project, dict):
            raise NotFoundError(f"Project {runs.entity}/{runs.project} not found.")
        listed = project.get("runs") or {}
        nodes = [e["node"] for e in listed.get("edges") or () if e and e.get("node")]
        info = listed.get("pageInfo") or {}
        cursor, more = info.get("endCursor"), bool(info.get("hasNextPage"))
        names = [str(n.get("name")) for n in nodes]
        fresh = guard.admit(names, has_next=more, end_cursor=cursor)
        logged = [
            _Logged(_object(n.get("historyKeys")), _object(n.get("systemMetrics")))
            for n, new in zip(nodes, fresh, strict=True)
            if new
        ]
        add_logged_types(types, logged, query)
        if not more:
            return schema_from(types, query)
    raise ServerError(f"The server's {where} went past {MAX_LISTING_PAGES} pages.")
