"""``write_history_dataset``: the histories of any number of runs into a
Parquet dataset partitioned by run, one page of runs at a time.

Built on ``Runs.iter_histories(format="arrow", union_schema=True)``: a few
pages are held at a time (each at most the client's row budget), so memory
stays flat however many runs there are, and every file has the same columns
and types. Each run's rows go to ``<path>/run_id=<run id>/part-0.parquet``
(hive partitioning: the run id is the folder name, not a column of the file;
ids are percent-encoded where a path needs it). DuckDB, Spark, Dask, polars
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

from ._exceptions import InvalidArgumentError
from .history.policy import ROW_BUDGET
from .history.run_rows import Stream

if TYPE_CHECKING:
    import pyarrow as pa

    from .runs import Runs

__all__ = ["DatasetResult", "write_history_dataset", "write_run_partitions"]

RUN_ID = "run_id"
PART_NAME = "part-{i}.parquet"


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
    """Write ``table`` (rows with a ``run_id`` column) under ``path``, one
    file per run in ``run_id=<id>/``; returns the files written."""
    import pyarrow.dataset as ds

    if RUN_ID not in table.column_names:
        raise InvalidArgumentError(
            f"the table has no {RUN_ID!r} column to partition by; pass the "
            "tables iter_histories(format='arrow') yields"
        )
    if not table.num_rows:
        return 0
    written: list[str] = []
    runs = len(table.column(RUN_ID).unique())
    ds.write_dataset(
        table,
        os.fspath(path),
        format="parquet",
        partitioning=[RUN_ID],
        partitioning_flavor="hive",
        basename_template=PART_NAME,
        existing_data_behavior="overwrite_or_ignore",
        file_options=ds.ParquetFileFormat().make_write_options(compression=compression),
        max_partitions=max(runs, 1),
        max_open_files=max(runs, 1),
        file_visitor=lambda f: written.append(f.path),
    )
    return len(written)


def write_history_dataset(
    runs: Runs,
    path: str | os.PathLike[str],
    samples: int = 500,
    keys: list[str] | None = None,
    x_axis: str = "_step",
    *,
    stream: Stream = "default",
    after: str | None = None,
    rows_per_request: int = ROW_BUDGET,
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
    folder.mkdir(parents=True, exist_ok=True)
    done = rows = files = 0
    token: str | None = None
    batches: Any = runs.iter_histories(
        samples, keys, x_axis, format="arrow", stream=stream, union_schema=True,
        after=after, progress=progress, rows_per_request=rows_per_request,
    )  # fmt: skip
    for batch in batches:
        files += write_run_partitions(batch.data, folder, compression)
        done += len(batch.run_ids)
        rows += batch.num_rows
        token = batch.resume_token
    return DatasetResult(folder, done, rows, files, token)
