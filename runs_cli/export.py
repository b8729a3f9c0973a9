"""``runs-client histories``: the histories of many runs into one file, page by page.

The file's schema is fixed before the first page is fetched, from what the
runs say they logged (``historyKeys`` type counts, or the keys of their
system metrics), so every page fits it and only a page is held at a time:

- ``run_id`` (string) first, then the x axis, then the keys in first-seen order;
- numbers are float64 (``historyKeys`` does not tell ints from floats, and a
  key that is an int in one page and a float in the next must not change the
  column's type); ``_step`` stays int64;
- strings stay strings, booleans booleans;
- media dicts, lists and keys logged with mixed types are JSON text.

Output by extension: ``.parquet``, ``.csv``, ``.jsonl`` (``.ndjson``); a folder
(an existing one, or a path ending in ``/``) gets one Parquet file per page,
a dataset DuckDB, Spark, Dask or ``pyarrow.dataset`` read as is.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runs_cli.errors import EXIT_ERROR, CliError
from runs_client import Run, Runs

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ColumnType",
    "ExportResult",
    "export_histories",
    "history_pages",
    "output_kind",
    "union_columns",
]

Stream = Literal["default", "system"]
ColumnType = Literal["int", "float", "bool", "string", "json"]
OutputKind = Literal["parquet", "csv", "jsonl", "folder"]

RUN_ID = "run_id"
_EXTENSIONS: dict[str, OutputKind] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_HISTORY_TYPES: dict[str, ColumnType] = {
    "number": "float",
    "string": "string",
    "boolean": "bool",
    "bool": "bool",
}
_INTEGER_KEYS = frozenset({"_step"})


@dataclass(frozen=True)
class ExportResult:
    runs: int
    rows: int
    path: Path
    bytes: int
    files: int


def output_kind(path: str) -> OutputKind:
    """The output format by the path's extension, or a folder."""
    if path.endswith(("/", os.sep)) or Path(path).is_dir():
        return "folder"
    kind = _EXTENSIONS.get(Path(path).suffix.lower())
    if kind is None:
        raise CliError(
            f"-o {path}: unknown output type; end the name with .parquet, .csv or "
            ".jsonl, or end it with / for a folder of Parquet files."
        )
    return kind


def _merge(old: ColumnType | None, new: ColumnType) -> ColumnType:
    if old is None or old == new:
        return new
    if {old, new} <= {"int", "float"}:
        return "float"  # an int here and a float there: widen
    return "json"


def _logged_types(run: Run) -> dict[str, ColumnType]:
    """Each key's column type from one run's ``historyKeys`` type counts."""
    keys = run.history_keys.get("keys")
    types: dict[str, ColumnType] = {}
    if not isinstance(keys, dict):
        return types
    for key, info in keys.items():
        counts = info.get("typeCounts") if isinstance(info, dict) else None
        kind: ColumnType | None = None
        for entry in counts if isinstance(counts, list) else []:
            logged = entry.get("type") if isinstance(entry, dict) else None
            kind = _merge(kind, _HISTORY_TYPES.get(str(logged), "json"))
        types[key] = kind or "json"
    return types


def _system_types(run: Run) -> dict[str, ColumnType]:
    types: dict[str, ColumnType] = {"_timestamp": "float", "_runtime": "float"}
    for key, value in run.system_metrics.items():
        if isinstance(value, bool):
            types[key] = "bool"
        elif isinstance(value, (int, float)):
            types[key] = "float"
        elif isinstance(value, str):
            types[key] = "string"
        else:
            types[key] = "json"
    return types


def union_columns(
    runs: Sequence[Run], keys: Sequence[str] | None, x_axis: str, stream: Stream
) -> dict[str, ColumnType]:
    """The file's columns and types, from every run's metadata (no history read).

    Raises:
        CliError: a key in ``keys`` that no run logged.
    """
    found: dict[str, ColumnType] = {}
    for run in runs:
        logged = _system_types(run) if stream == "system" else _logged_types(run)
        for key, kind in logged.items():
            found[key] = _merge(found.get(key), kind)
    for key in _INTEGER_KEYS:
        if found.get(key) == "float":
            found[key] = "int"
    if keys:
        wanted = [x_axis, *(k for k in keys if k != x_axis)]
        missing = [k for k in wanted if k not in found]
        if missing and runs:
            logged_keys = ", ".join(k for k in found if not k.startswith("_"))
            raise CliError(
                f"no run logged {', '.join(map(repr, missing))}; keys these runs "
                f"logged: {logged_keys or '(none)'}."
            )
        found = {k: found.get(k, "float") for k in wanted}
    else:
        front = [k for k in (x_axis, "_step") if k in found]
        found = {**{k: found[k] for k in front}, **found}
    return {RUN_ID: "string", **found}


def history_pages(
    runs: Sequence[Run],
    *,
    samples: int,
    keys: list[str] | None,
    x_axis: str,
    stream: Stream,
    page_runs: int,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """``(runs in the page, rows)`` per page of runs, each row with ``run_id``.

    The one place that fetches history: built on the public per-run
    ``Run.history`` for now, to be replaced by the bulk ``Runs.iter_histories``.
    """
    for start in range(0, len(runs), page_runs):
        page = runs[start : start + page_runs]
        rows: list[dict[str, Any]] = []
        for run in page:
            for row in run.history(
                samples=samples,
                keys=keys,
                x_axis=x_axis,
                pandas=False,
                stream=stream,
            ):
                rows.append({RUN_ID: run.id, **row})
        yield len(page), rows


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))  # NaN stays a bare NaN token


def _convert(kind: ColumnType) -> Callable[[Any], Any]:
    def to_float(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None if v is None else math.nan
        return float(v)

    def to_int(v: Any) -> Any:
        return int(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    def to_bool(v: Any) -> Any:
        return v if isinstance(v, bool) else None

    def to_string(v: Any) -> Any:
        return v if isinstance(v, str) or v is None else _json_text(v)

    return {
        "float": to_float,
        "int": to_int,
        "bool": to_bool,
        "string": to_string,
        "json": _json_text,
    }[kind]


def arrow_schema(columns: dict[str, ColumnType]) -> pa.Schema:
    import pyarrow as pa

    types = {
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
        "json": pa.string(),
    }
    return pa.schema([(name, types[kind]) for name, kind in columns.items()])


def _table(rows: list[dict[str, Any]], columns: dict[str, ColumnType]) -> pa.Table:
    import pyarrow as pa

    data = {}
    for name, kind in columns.items():
        convert = _convert(kind)
        data[name] = [convert(row.get(name)) for row in rows]
    return pa.Table.from_pydict(data, schema=arrow_schema(columns))


def _output_error(path: Path, exc: OSError) -> CliError:
    # pyarrow's errors carry no errno or filename, only a "Detail: " text.
    text = str(exc)
    reason = text.split("Detail: ")[-1] if "Detail: " in text else exc.strerror or text
    return CliError(
        f"cannot write {path}: {reason}; choose another path with -o.",
        exit_code=EXIT_ERROR,
    )


class _Writer:
    """One output, opened before the first page and closed after the last."""

    def __init__(self, path: Path, kind: OutputKind, columns: dict[str, ColumnType]):
        try:
            self._open(path, kind, columns)
        except OSError as exc:
            raise _output_error(path, exc) from exc

    def _open(
        self, path: Path, kind: OutputKind, columns: dict[str, ColumnType]
    ) -> None:
        self.path, self.kind, self.columns = path, kind, columns
        self.files = 0
        self._writer: Any = None
        self._text: Any = None
        schema = arrow_schema(columns)
        if kind == "folder":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        elif kind == "csv":
            import pyarrow.csv as pacsv

            self._writer = pacsv.CSVWriter(path, schema)
        else:
            self._text = path.open("w", encoding="utf-8")

    def write(self, rows: list[dict[str, Any]]) -> None:
        try:
            self._write(rows)
        except OSError as exc:
            raise _output_error(self.path, exc) from exc

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if self.kind == "jsonl":
            order = list(self.columns)
            for row in rows:
                ordered = {k: row[k] for k in order if k in row}
                ordered.update(row)  # keys beyond the schema are kept too
                self._text.write(json.dumps(ordered, separators=(",", ":")) + "\n")
            return
        table = _table(rows, self.columns)
        if self.kind == "folder":
            import pyarrow.parquet as pq

            pq.write_table(
                table, self.path / f"part-{self.files:05d}.parquet", compression="zstd"
            )
            self.files += 1
        else:
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._text is not None:
            self._text.close()
        if self.kind != "folder":
            self.files = 1

    def size(self) -> int:
        if self.kind == "folder":
            return sum(p.stat().st_size for p in self.path.glob("part-*.parquet"))
        return self.path.stat().st_size


def export_histories(
    runs: Runs | Sequence[Run],
    output: str,
    *,
    samples: int = 500,
    keys: list[str] | None = None,
    x_axis: str = "_step",
    stream: Stream = "default",
    page_runs: int = 50,
    on_start: Callable[[int], None] | None = None,
    on_page: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the histories of ``runs`` to ``output``, one page of runs at a time.

    ``on_start(total_runs)`` and ``on_page(runs_done_in_page)`` drive a
    progress display. Raises ``CliError`` for a bad path or key before any
    history request, and ``OSError`` when the output cannot be written.
    """
    kind = output_kind(output)
    if stream == "system" and keys:
        raise CliError("--keys cannot be combined with --stream system; drop --keys.")
    run_list = list(runs)
    columns = union_columns(run_list, keys, x_axis, stream)
    path = Path(output)
    if on_start is not None:
        on_start(len(run_list))
    writer = _Writer(path, kind, columns)
    rows = 0
    try:
        for done, page in history_pages(
            run_list,
            samples=samples,
            keys=keys or None,
            x_axis=x_axis,
            stream=stream,
            page_runs=page_runs,
        ):
            if page or kind != "folder":
                writer.write(page)
            rows += len(page)
            if on_page is not None:
                on_page(done)
    finally:
        writer.close()
    return ExportResult(len(run_list), rows, path, writer.size(), writer.files)
