"""History rows to one pandas, polars or pyarrow frame, built column by column.

Rows arrive a page at a time. Each page is turned at once into one typed
array per column (a ``Chunk``: int64, float64 or bool with a validity mask,
or an object array for text and other values), so what is kept between pages
is arrays, not Python lists of every value. At the end the chunks of each
column are concatenated once and the frame is built once: no per-run frames
and no concat of frames.

Column types: a column whose values are all numbers stays numeric (NaN and
+/-inf kept; missing values NaN in pandas, null in polars and arrow); all-bool
stays bool; all-text stays text; anything else (media dicts, lists, mixtures,
integers past 64 bits) is JSON text, one string per value, in pandas, polars
and arrow alike, so that every frame writes to Parquet and CSV as it is (a
``pl.Object`` column writes to neither; a pandas object column of lists writes
Python reprs to CSV and fails Parquet on mixed values). pandas frames name
those columns in ``frame.attrs["json_columns"]``. Columns are sorted by name
with ``run_id`` first, as the official SDK sorts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._exceptions import InvalidArgumentError
from .chunks import (
    TRIM_AFTER_BYTES,
    Chunk,
    Schema,
    cast,
    chunk_of,
    concat,
    json_text,
    nbytes,
    object_array,
    return_freed_memory,
)
from .rows import order_permutation_of_values, ordering
from .typed_pages import orjson_numbers

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = [
    "RUN_ID",
    "Columns",
    "import_polars",
    "import_pyarrow",
]

RUN_ID = "run_id"


def import_polars() -> Any:
    """Import polars, or say how to install it."""
    try:
        import polars
    except ImportError as exc:
        raise InvalidArgumentError(
            "format='polars' needs polars, which is not installed: "
            "pip install runs-client[polars] (or use format='pandas' or 'default')."
        ) from exc
    return polars


def import_pyarrow() -> Any:
    """Import pyarrow, or say how to install it."""
    try:
        import pyarrow
    except ImportError as exc:
        raise InvalidArgumentError(
            "format='arrow' needs pyarrow, which is not installed: "
            "pip install runs-client[arrow] (or use format='pandas' or 'default')."
        ) from exc
    return pyarrow


class Columns:
    """Rows gathered page by page into typed column chunks.

    ``with_run_id`` adds ``run_id`` as the first column (our value wins over a
    logged key of that name, as in the SDK).
    """

    def __init__(self, *, with_run_id: bool = True) -> None:
        self._with_run_id = with_run_id
        self._chunks: dict[str, list[Chunk]] = {}
        self._length = 0

    def __len__(self) -> int:
        return self._length

    def add_chunks(self, length: int, chunks: Mapping[str, Chunk]) -> None:
        """Append one page whose columns are already chunks of ``length`` rows."""
        if length == 0:
            return
        for name, chunk in chunks.items():
            column = self._chunks.get(name)
            if column is None:
                earlier = [Chunk("null", self._length)] if self._length else []
                column = self._chunks[name] = earlier
            column.append(chunk)
        for name, column in self._chunks.items():
            if name not in chunks:
                column.append(Chunk("null", length))
        self._length += length

    def add_page(
        self,
        run_ids: Sequence[str],
        counts: Sequence[int],
        rows: Sequence[Mapping[str, Any]],
        *,
        keys: Sequence[str] | None = None,
        order_by: str | None = "_step",
        nonfinite_strings: bool = False,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        """Append one page: ``rows`` of the runs ``run_ids``, ``counts[i]`` each.

        ``keys``: every row holds exactly these keys (sampled history), so no
        union of keys is needed. Each run's rows are put in ``order_by``
        order (numpy, on the column, only when they are not); a ``_step``
        of integral floats becomes int. ``nonfinite_strings``: the strings
        ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` are floats (strict-JSON
        sampledHistory), fixed in the text columns only. ``fields``: the rows
        are objects of ``typed_pages`` holding key ``k`` in attribute
        ``fields[k]`` (for each of ``keys``), not dicts.
        """
        n = len(rows)
        if n == 0:
            return
        names = keys if keys is not None else _union_keys(rows)
        chunks: dict[str, Chunk] = {}
        order_values: list[Any] | None = None
        for name in names:
            if name == RUN_ID and self._with_run_id:
                continue
            values: list[Any]
            if fields is not None:
                values = list(map(attrgetter(fields[name]), rows))
            else:
                try:
                    # map(itemgetter) walks the rows in C, faster than a listcomp.
                    values = (
                        list(map(itemgetter(name), rows)) if keys is not None else []
                    )
                except KeyError:
                    keys = None
                if keys is None:
                    values = list(map(dict.get, rows, _repeat(name, n)))  # type: ignore[arg-type]
            chunk = chunk_of(values, nonfinite_strings)
            if fields is not None and chunk.kind == "object":
                # Integers beyond 64 bits (only an object column holds them)
                # as orjson reads them, so that every format gets one value.
                values = list(map(orjson_numbers, values))
                chunk = chunk_of(values, nonfinite_strings)
            if name == "_step" and chunk.kind == "float":
                chunk = _integral_steps(chunk)
            chunks[name] = chunk
            if name == order_by:
                order_values = values
        if order_by is not None and order_by in chunks:
            assert order_values is not None
            order = _permutation(chunks[order_by], counts, order_values)
            if order is not None:
                chunks = {name: c.take(order) for name, c in chunks.items()}
        if self._with_run_id:
            chunks[RUN_ID] = Chunk.repeat(run_ids, counts)
        self.add_chunks(n, chunks)

    def add_run(
        self, rows: Sequence[Mapping[str, Any]], run_id: str | None = None
    ) -> None:
        """Append one run's rows; keys the run lacks are filled with None."""
        self.add_page([run_id or ""], [len(rows)], rows)

    def add_runs(self, runs: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> None:
        """Append ``(run_id, rows)`` pairs in order."""
        for run_id, rows in runs:
            self.add_run(rows, run_id)

    def columns(self, schema: Schema | None = None) -> dict[str, Chunk]:
        """Each column's chunks joined once, in frame order (``run_id`` first)."""
        return dict(self._joined(schema, release=False))

    def _joined(
        self, schema: Schema | None, *, release: bool, pooled: bool = False
    ) -> Iterator[tuple[str, Chunk]]:
        """``columns`` one at a time; with ``release`` each column's chunks are
        dropped once joined, so building a frame holds about one copy."""
        released = 0
        names = sorted(self._chunks)
        if schema is not None:
            names = [n for n in schema if n != RUN_ID or self._with_run_id]
        if self._with_run_id:
            names = [RUN_ID, *(n for n in names if n != RUN_ID)]
        for name in names:
            chunks = self._chunks.get(name) or [Chunk("null", self._length)]
            if not self._length:
                chunks = [Chunk("str" if name == RUN_ID else "null", 0)]
                if name == RUN_ID:
                    chunks = [Chunk("str", 0, np.empty(0, dtype=object))]
            if schema is not None and name != RUN_ID and name in schema:
                chunks = [cast(c, schema[name]) for c in chunks]
            if release:
                self._chunks.pop(name, None)
            joined = concat(chunks, pooled)
            del chunks
            yield name, joined
            released += nbytes(joined)
            if release and released >= TRIM_AFTER_BYTES:
                return_freed_memory()  # a syscall: only when it matters
                released = 0

    def to_pandas(
        self, schema: Schema | None = None, *, release: bool = False
    ) -> pd.DataFrame:
        """One pandas DataFrame with typed numeric columns.

        ``release``: drop the gathered chunks while building (the Columns is
        empty afterwards), so that the data is held about once at a time.
        """
        length = self._length
        data: dict[str, Any] = {}
        json_columns: list[str] = []
        for name, chunk in self._joined(schema, release=release, pooled=True):
            data[name] = _pandas_column(chunk)
            if chunk.kind == "object" or (schema and schema.get(name) == "json"):
                json_columns.append(name)
        # Released arrays are the frame's alone: taken as they are, not
        # copied into one block per dtype.
        frame: pd.DataFrame = pd.DataFrame(
            data, index=pd.RangeIndex(length), copy=not release
        )
        frame.attrs["json_columns"] = json_columns
        return frame

    def to_polars(
        self, schema: Schema | None = None, *, release: bool = False
    ) -> pl.DataFrame:
        """One polars DataFrame; non-uniform columns become JSON text."""
        pl_mod = import_polars()
        series = [
            _polars_column(pl_mod, n, c)
            for n, c in self._joined(schema, release=release)
        ]
        frame: pl.DataFrame = pl_mod.DataFrame(series)
        return frame

    def to_arrow(
        self, schema: Schema | None = None, *, release: bool = False
    ) -> pa.Table:
        """One pyarrow Table; non-uniform columns become JSON text."""
        pa_mod = import_pyarrow()
        names: list[str] = []
        arrays = []
        for name, chunk in self._joined(schema, release=release):
            names.append(name)
            arrays.append(_arrow_column(pa_mod, chunk))
        table: pa.Table = pa_mod.table(arrays, names=names)
        return table


def _integral_steps(chunk: Chunk) -> Chunk:
    # W&B sometimes sends _step as a float such as 3.0; steps are integers.
    assert chunk.data is not None
    present = chunk.data if chunk.valid is None else chunk.data[chunk.valid]
    if not np.all(np.isfinite(present)) or not np.all(present == np.floor(present)):
        return chunk
    data = np.where(np.isfinite(chunk.data), chunk.data, 0).astype(np.int64)
    return Chunk("int", chunk.length, data, chunk.valid)


def _permutation(
    chunk: Chunk, counts: Sequence[int], values: Sequence[Any]
) -> np.ndarray[Any, Any] | None:
    if chunk.kind not in ("int", "float") or chunk.data is None:
        return order_permutation_of_values(values, counts)
    keys = chunk.data.astype(np.float64)
    keys[np.isnan(keys)] = np.inf
    if chunk.valid is not None:
        keys[~chunk.valid] = np.inf
    return ordering(keys, counts)


def _repeat(value: str, n: int) -> Iterable[str]:
    from itertools import repeat

    return repeat(value, n)


def _union_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    # One C-level pass; the order does not matter (columns are sorted).
    return list(set().union(*rows))


def _pandas_column(chunk: Chunk) -> Any:
    n = chunk.length
    if chunk.kind == "null":
        return pd.Series(np.full(n, None, dtype=object), dtype=object, copy=False)
    assert chunk.data is not None
    if chunk.kind == "int":
        if chunk.valid is None:
            return chunk.data
        return chunk.as_kind("float").data  # None becomes NaN
    if chunk.kind == "float":
        return chunk.data
    if chunk.kind == "bool" and chunk.valid is None:
        return chunk.data
    data = chunk.as_kind("object").data if chunk.kind == "bool" else chunk.data
    if chunk.kind == "object":  # as in polars and arrow: JSON text
        data = object_array(map(json_text, chunk.data), n)
    # An explicit object Series: pandas 3 would otherwise infer its str dtype
    # for text columns and turn None into NaN.
    return pd.Series(data, dtype=object, copy=False)


def _polars_column(pl_mod: Any, name: str, chunk: Chunk) -> Any:
    if chunk.kind == "null":
        dtype = pl_mod.String if name == RUN_ID else pl_mod.Null
        return pl_mod.Series(name, [None] * chunk.length, dtype=dtype)
    assert chunk.data is not None
    if chunk.kind in ("int", "float", "bool"):
        dtype = {"int": pl_mod.Int64, "float": pl_mod.Float64, "bool": pl_mod.Boolean}
        series = pl_mod.Series(name, chunk.data, dtype=dtype[chunk.kind])
        if chunk.valid is not None and not chunk.valid.all():
            series = series.scatter(np.flatnonzero(~chunk.valid), None)
        return series
    if chunk.kind == "str":
        # A list, not the object array: polars cannot cast leading Nones.
        return pl_mod.Series(name, chunk.data.tolist(), dtype=pl_mod.String)
    # JSON text, as in arrow: a pl.Object column writes to neither Parquet nor CSV.
    texts = [json_text(v) for v in chunk.data.tolist()]
    return pl_mod.Series(name, texts, dtype=pl_mod.String)


def _arrow_column(pa_mod: Any, chunk: Chunk) -> Any:
    if chunk.kind == "null":
        return pa_mod.nulls(chunk.length)
    assert chunk.data is not None
    mask = None if chunk.valid is None else ~chunk.valid
    if chunk.kind in ("int", "float", "bool"):
        return pa_mod.array(chunk.data, mask=mask)
    if chunk.kind == "str":
        return pa_mod.array(chunk.data, type=pa_mod.string(), from_pandas=True)
    texts = object_array(map(json_text, chunk.data), chunk.length)
    return pa_mod.array(texts, type=pa_mod.string(), from_pandas=True)
