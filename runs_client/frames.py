"""History rows to one pandas, polars or pyarrow frame, built column by column.

Rows arrive a page at a time. Each page is turned at once into one typed
array per column (a ``Chunk``: int64, float64 or bool with a validity mask,
or an object array for text and other values), so what is kept between pages
is arrays, not Python lists of every value. At the end the chunks of each
column are concatenated once and the frame is built once: no per-run frames
and no concat of frames.

Column types: a column whose values are all numbers stays numeric (NaN and
+/-inf kept; missing values NaN in pandas, null in polars and arrow); all-bool
stays bool; all-text stays text; anything else (media dicts, lists, mixtures)
keeps its Python values as ``object`` (pandas) or ``pl.Object`` (polars), and
becomes JSON text in arrow, which holds no Python objects. Columns are sorted
by name with ``run_id`` first, as the official SDK sorts them.
"""

from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._exceptions import InvalidArgumentError
from ._rows import NONFINITE_STRINGS, order_permutation_of_values, ordering
from ._typed_pages import orjson_numbers

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = [
    "RUN_ID",
    "Chunk",
    "ColumnType",
    "Columns",
    "Schema",
    "import_polars",
    "import_pyarrow",
]

RUN_ID = "run_id"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

Kind = Literal["int", "float", "bool", "str", "object", "null"]
# A union schema's column types: "json" is JSON text of any value.
ColumnType = Literal["int", "float", "bool", "str", "json"]
Schema = dict[str, ColumnType]


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


_NONE = type(None)
# Value types converted by numpy at once: (kind, dtype). Python floats hold
# every float64; ints are range-checked by the conversion itself.
_FAST_DTYPES: dict[frozenset[type], tuple[Kind, Any]] = {
    frozenset({float}): ("float", np.float64),
    frozenset({int}): ("int", np.int64),
    frozenset({bool}): ("bool", np.bool_),
}
_JSON_SCALARS = frozenset({_NONE, bool, int, float, str})


def _fits_int64(values: Sequence[Any], only_ints: bool) -> bool:
    ints = values if only_ints else [v for v in values if type(v) is int]
    return min(ints) >= _INT64_MIN and max(ints) <= _INT64_MAX


def _kind(values: Sequence[Any]) -> tuple[Kind, bool]:
    """The column's kind and whether it has missing (None) values.

    Decided from the set of value types (one pass in C) rather than value by
    value; values of other classes (subclasses such as numpy floats) take the
    value-by-value path, which treats them by ``isinstance``.
    """
    types = set(map(type, values))
    if types <= _JSON_SCALARS:
        missing = _NONE in types
        types.discard(_NONE)
        if not types:
            return "null", missing
        if types <= {int, float}:
            if int in types and not _fits_int64(values, types == {int} and not missing):
                return "object", missing
            return ("int" if types == {int} else "float"), missing
        if types == {bool}:
            return "bool", missing
        if types == {str}:
            return "str", missing
        return "object", missing
    return _kind_by_value(values)


def _kind_by_value(values: Sequence[Any]) -> tuple[Kind, bool]:
    seen: set[str] = set()
    missing = False
    for v in values:
        if v is None:
            missing = True
        elif isinstance(v, bool):
            seen.add("bool")
        elif isinstance(v, int):
            # Beyond int64 neither library holds it as a number exactly.
            seen.add("int" if _INT64_MIN <= v <= _INT64_MAX else "object")
        elif isinstance(v, float):
            seen.add("float")
        elif isinstance(v, str):
            seen.add("str")
        else:
            seen.add("object")
        if "object" in seen:
            return "object", missing  # nothing can change the kind any more
    if not seen:
        return "null", missing
    if seen <= {"int", "float"}:
        return ("int" if seen == {"int"} else "float"), missing
    if len(seen) == 1:
        only: Kind = "bool" if "bool" in seen else "str"
        return only, missing
    return "object", missing


def _present(objects: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    none: Any = None
    result: np.ndarray[Any, Any] = np.not_equal(objects, none)
    return result


def _objects(values: Iterable[Any], n: int) -> np.ndarray[Any, Any]:
    # fromiter never turns a list value into an extra dimension.
    return np.fromiter(values, dtype=object, count=n)


@dataclass(frozen=True)
class Chunk:
    """One page's values of one column, as typed arrays.

    ``data`` is int64/float64/bool for numeric and bool kinds (missing slots
    hold 0/NaN/False), an object array for ``str``/``object``, None for
    ``null``. ``valid`` marks present values; None means all are present.
    """

    kind: Kind
    length: int
    data: np.ndarray[Any, Any] | None = None
    valid: np.ndarray[Any, Any] | None = None

    @classmethod
    def of(cls, values: Sequence[Any], types: set[type] | None = None) -> Chunk:
        """The chunk of ``values`` (``types``: their set of types, if known)."""
        n = len(values)
        if types is None:
            types = set(map(type, values))
        # The usual numeric columns, converted by numpy in one pass (an int
        # beyond int64 makes numpy refuse, and the general path decides).
        fast = _FAST_DTYPES.get(frozenset(types))
        if fast is not None:
            try:
                return cls(fast[0], n, np.array(values, dtype=fast[1]))
            except OverflowError:
                pass
        kind, missing = _kind(values)
        if kind == "null":
            return cls("null", n)
        if kind == "object":
            return cls("object", n, _objects(values, n))
        dtype = {"int": np.int64, "float": np.float64, "bool": np.bool_}.get(kind)
        if dtype is not None and not missing:
            # Exact numbers or bools only (checked by _kind): one conversion.
            try:
                return cls(kind, n, np.array(values, dtype=dtype))
            except OverflowError:  # ints beyond int64: kept as Python ints
                return cls("object", n, _objects(values, n))
        objects = np.array(values, dtype=object)  # scalars only here
        valid = _present(objects) if missing else None
        if kind == "str":
            return cls("str", n, objects, valid)
        if valid is not None:
            objects[~valid] = 0
        data: np.ndarray[Any, Any] = objects.astype(dtype)
        if kind == "float" and valid is not None:
            data[~valid] = np.nan
        return cls(kind, n, data, valid)

    @classmethod
    def repeat(cls, values: Sequence[str], counts: Sequence[int]) -> Chunk:
        """A text column of ``values[i]`` repeated ``counts[i]`` times."""
        data = np.repeat(np.array(values, dtype=object), counts)
        return cls("str", len(data), data)

    def take(self, order: np.ndarray[Any, Any]) -> Chunk:
        """The chunk's values in the order of the indices ``order``."""
        data = None if self.data is None else self.data[order]
        valid = None if self.valid is None else self.valid[order]
        return Chunk(self.kind, self.length, data, valid)

    def present(self) -> np.ndarray[Any, Any]:
        if self.valid is not None:
            return self.valid
        return np.full(self.length, self.kind != "null", dtype=bool)

    def as_kind(self, kind: Kind) -> Chunk:
        """This chunk's values as ``kind`` (which must be able to hold them)."""
        if kind == self.kind:
            return self
        n = self.length
        if self.kind == "null":
            valid = np.zeros(n, dtype=bool)
            if kind in ("str", "object"):
                return Chunk(kind, n, np.full(n, None, dtype=object), valid)
            fill = {"int": 0, "float": np.nan, "bool": False}.get(kind)
            dtype = {"int": np.int64, "float": np.float64, "bool": np.bool_}[kind]
            return Chunk(kind, n, np.full(n, fill, dtype=dtype), valid)
        assert self.data is not None
        if kind == "float":  # from int
            data = self.data.astype(np.float64)
            if self.valid is not None:
                data[~self.valid] = np.nan
            return Chunk("float", n, data, self.valid)
        # To object: Python values, missing ones None.
        data = self.data.astype(object)
        if self.valid is not None:
            data[~self.valid] = None
        return Chunk(kind, n, data, self.valid)


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    return trim


_MALLOC_TRIM = _load_malloc_trim()


# Freed heap pages are handed back after this many bytes of columns.
TRIM_AFTER_BYTES = 8 * 1024 * 1024


def _nbytes(chunk: Chunk) -> int:
    return 0 if chunk.data is None else int(chunk.data.nbytes)


def _return_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise).

    A column's chunks live on the C heap, the frame built from them in the
    frame library's own allocator: without this the chunks' pages would stay
    in the process while the frame is built, doubling its peak memory.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _common_kind(kinds: set[Kind]) -> Kind:
    kinds = kinds - {"null"}
    if not kinds:
        return "null"
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds <= {"int", "float"}:
        return "float"
    return "object"


def _concat(chunks: list[Chunk]) -> Chunk:
    kind = _common_kind({c.kind for c in chunks})
    n = sum(c.length for c in chunks)
    if kind == "null":
        return Chunk("null", n)
    same = [c.as_kind(kind) for c in chunks]
    if len(same) == 1:
        return same[0]
    data = np.concatenate([c.data for c in same if c.data is not None])
    valid = None
    if any(c.valid is not None for c in same):
        valid = np.concatenate([c.present() for c in same])
    return Chunk(kind, n, data, valid)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _cast(chunk: Chunk, target: ColumnType) -> Chunk:
    """A chunk in a union schema's type: ints widened, the rest JSON text."""
    if target in ("int", "float", "bool") and chunk.kind in ("null", target):
        return chunk.as_kind(target)
    if target == "float" and chunk.kind == "int":
        return chunk.as_kind("float")
    if target == "str" and chunk.kind in ("null", "str"):
        return chunk.as_kind("str")
    # Values that do not fit the schema's type keep their data as JSON text.
    objects = chunk.as_kind("object").data
    assert objects is not None
    texts = _objects(map(_json_text, objects), chunk.length)
    return Chunk("str", chunk.length, texts, chunk.as_kind("object").valid)


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
        are objects of ``_typed_pages`` holding key ``k`` in attribute
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
            chunk = _chunk(values, nonfinite_strings)
            if fields is not None and chunk.kind == "object":
                # Integers beyond 64 bits (only an object column holds them)
                # as orjson reads them, so that every format gets one value.
                values = list(map(orjson_numbers, values))
                chunk = _chunk(values, nonfinite_strings)
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
        self, schema: Schema | None, *, release: bool
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
                chunks = [_cast(c, schema[name]) for c in chunks]
            if release:
                self._chunks.pop(name, None)
            joined = _concat(chunks)
            del chunks
            yield name, joined
            released += _nbytes(joined)
            if release and released >= TRIM_AFTER_BYTES:
                _return_freed_memory()  # a syscall: only when it matters
                released = 0

    def to_pandas(
        self, schema: Schema | None = None, *, release: bool = False
    ) -> pd.DataFrame:
        """One pandas DataFrame with typed numeric columns.

        ``release``: drop the gathered chunks while building (the Columns is
        empty afterwards), so that the data is held about once at a time.
        """
        length = self._length
        data = {n: _pandas_column(c) for n, c in self._joined(schema, release=release)}
        # Released arrays are the frame's alone: taken as they are, not
        # copied into one block per dtype.
        frame: pd.DataFrame = pd.DataFrame(
            data, index=pd.RangeIndex(length), copy=not release
        )
        return frame

    def to_polars(
        self, schema: Schema | None = None, *, release: bool = False
    ) -> pl.DataFrame:
        """One polars DataFrame; non-uniform columns become ``pl.Object``."""
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


_NUMBERS_AND_TEXT = frozenset({int, float, str, _NONE})
_FLOATS_AND_TEXT = frozenset({float, str, _NONE})
_TEXT = frozenset({str, _NONE})
# Types as numpy comparison operands (compared elementwise with an object array).
_STR_TYPE: Any = str
_INT_TYPE: Any = int
_NONE_TYPE: Any = _NONE


def _nonfinite_fixed(values: list[Any], kinds: set[type] | None = None) -> Chunk:
    """``chunk`` with ``"NaN"``/``"Infinity"``/``"-Infinity"`` as floats.

    Usually the only strings of a column are those markers among floats:
    then numpy converts the column at once (it reads the markers as Python's
    ``float()`` does) and only the non-finite results are looked at. Text
    columns without a marker are left as they are; anything else is fixed
    value by value.
    """
    if kinds is None:
        kinds = set(map(type, values))
    if str not in kinds:
        return Chunk.of(values, kinds)  # no marker to fix
    if kinds <= _FLOATS_AND_TEXT:
        if kinds <= _TEXT and NONFINITE_STRINGS.keys().isdisjoint(values):
            return Chunk.of(values, kinds)  # text without a marker
        chunk = _floats_with_markers(values, _NONE in kinds)
        if chunk is not None:
            return chunk
    elif kinds <= _NUMBERS_AND_TEXT and kinds & {int, float}:
        chunk = _numbers_with_markers(values, kinds)
        if chunk is not None:
            return chunk
    table = NONFINITE_STRINGS
    fixed = [table.get(v, v) if v.__class__ is str else v for v in values]
    return Chunk.of(fixed)


def _floats_with_markers(values: list[Any], missing: bool) -> Chunk | None:
    """Floats, markers and None as one float chunk; None when other text
    is there (numpy would read "1.5" or "nan" as numbers, which they are not)."""
    try:
        data = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):  # text that is no number at all
        return None
    # Markers and None are among the non-finite results (few): checked there.
    odd = np.flatnonzero(~np.isfinite(data)).tolist()
    picked = [values[i] for i in odd]
    texts = [v for v in picked if v.__class__ is str]
    if not NONFINITE_STRINGS.keys() >= set(texts):
        return None
    # Text numpy read as a finite number ("1.5") is what remains once the
    # non-finite slots are zeroed: sum() adds floats in C and refuses text.
    numbers = values.copy()
    for i in odd:
        numbers[i] = 0.0
    try:
        sum(numbers, 0.0)
    except TypeError:
        return None
    valid = None
    if missing:
        valid = np.ones(len(values), dtype=bool)
        valid[[i for i, v in zip(odd, picked, strict=True) if v is None]] = False
    return Chunk("float", len(values), data, valid)


def _numbers_with_markers(values: list[Any], kinds: set[type]) -> Chunk | None:
    """Ints among the numbers: replaced markers found by a vectorised type
    test, the ints range-checked; None when other text is there."""
    n = len(values)
    types = np.fromiter(map(type, values), dtype=object, count=n)
    objects = np.array(values, dtype=object)
    is_text = np.equal(types, _STR_TYPE)
    texts = objects[is_text]
    ints: list[int] = []
    if int in kinds:
        ints = objects[np.equal(types, _INT_TYPE)].tolist()
    if not set(texts.tolist()) <= NONFINITE_STRINGS.keys() or (
        ints and not _fits_int64(ints, True)
    ):
        return None
    table = NONFINITE_STRINGS
    objects[is_text] = [table[t] for t in texts.tolist()]
    valid = None
    if _NONE in kinds:
        valid = np.not_equal(types, _NONE_TYPE)
        objects[~valid] = np.nan
    data: np.ndarray[Any, Any] = objects.astype(np.float64)
    return Chunk("float", n, data, valid)


def _chunk(values: list[Any], nonfinite_strings: bool) -> Chunk:
    types = set(map(type, values))
    if nonfinite_strings and str in types:
        return _nonfinite_fixed(values, types)
    return Chunk.of(values, types)


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
    return pl_mod.Series(name, chunk.data.tolist(), dtype=pl_mod.Object)


def _arrow_column(pa_mod: Any, chunk: Chunk) -> Any:
    if chunk.kind == "null":
        return pa_mod.nulls(chunk.length)
    assert chunk.data is not None
    mask = None if chunk.valid is None else ~chunk.valid
    if chunk.kind in ("int", "float", "bool"):
        return pa_mod.array(chunk.data, mask=mask)
    if chunk.kind == "str":
        return pa_mod.array(chunk.data, type=pa_mod.string(), from_pandas=True)
    texts = _objects(map(_json_text, chunk.data), chunk.length)
    return pa_mod.array(texts, type=pa_mod.string(), from_pandas=True)
