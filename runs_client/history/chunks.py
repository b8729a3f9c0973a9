"""Typed column chunks: one page's values of one column as an int64, float64
or bool array with a validity mask, or an object array for text and the rest;
their kinds, concatenation, casts to a union schema's types, and the
non-finite markers (``"NaN"``, ``"Infinity"``) read as floats.

Also the glibc hand-back of freed heap pages, which frames use while they
turn chunks into a frame.
"""

from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .rows import NONFINITE_STRINGS

__all__ = [
    "TRIM_AFTER_BYTES",
    "Chunk",
    "ColumnType",
    "Grid",
    "Kind",
    "Repeat",
    "Schema",
    "cast",
    "chunk_of",
    "concat",
    "json_text",
    "nbytes",
    "nonfinite_fixed",
    "object_array",
    "return_freed_memory",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

Kind = Literal["int", "float", "bool", "str", "object", "null"]
# A union schema's column types: "json" is JSON text of any value.
ColumnType = Literal["int", "float", "bool", "str", "json"]
Schema = dict[str, ColumnType]


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


def object_array(values: Iterable[Any], n: int) -> np.ndarray[Any, Any]:
    # fromiter never turns a list value into an extra dimension.
    return np.fromiter(values, dtype=object, count=n)


@dataclass(frozen=True)
class Repeat:
    """Text not yet built: ``values[i]`` repeated ``counts[i]`` times."""

    values: Sequence[str]
    counts: Sequence[int]


@dataclass(frozen=True)
class Grid:
    """Integers not yet built: ``starts[i] + offsets`` for each ``i``."""

    starts: np.ndarray[Any, Any]
    offsets: np.ndarray[Any, Any]


@dataclass(frozen=True)
class Chunk:
    """One page's values of one column, as typed arrays.

    ``data`` is int64/float64/bool for numeric and bool kinds (missing slots
    hold 0/NaN/False), an object array for ``str``/``object``, None for
    ``null``. ``valid`` marks present values; None means all are present.

    ``lazy``: the values are not built yet (``data`` is None), a pattern a
    page describes in a few numbers (a run id per run, a columnar page's
    step grid); ``concat`` builds a column's patterns at once, into the one
    array the frame takes, instead of each page's and then their join.
    """

    kind: Kind
    length: int
    data: np.ndarray[Any, Any] | None = None
    valid: np.ndarray[Any, Any] | None = None
    lazy: Repeat | Grid | None = None

    def built(self) -> Chunk:
        """This chunk with its values built (itself when they are)."""
        if self.lazy is None:
            return self
        return Chunk(self.kind, self.length, _build([self.lazy], self.length))

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
            return cls("object", n, object_array(values, n))
        dtype = {"int": np.int64, "float": np.float64, "bool": np.bool_}.get(kind)
        if dtype is not None and not missing:
            # Exact numbers or bools only (checked by _kind): one conversion.
            try:
                return cls(kind, n, np.array(values, dtype=dtype))
            except OverflowError:  # ints beyond int64: kept as Python ints
                return cls("object", n, object_array(values, n))
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
        """A text column of ``values[i]`` repeated ``counts[i]`` times (built
        when the column is joined)."""
        return cls("str", int(sum(counts)), lazy=Repeat(values, counts))

    @classmethod
    def grid(cls, starts: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any]) -> Chunk:
        """An int column of ``starts[i] + offsets`` for each ``i`` (built when
        the column is joined)."""
        return cls("int", len(starts) * len(offsets), lazy=Grid(starts, offsets))

    def take(self, order: np.ndarray[Any, Any]) -> Chunk:
        """The chunk's values in the order of the indices ``order``."""
        if self.lazy is not None:
            return self.built().take(order)
        data = None if self.data is None else self.data[order]
        valid = None if self.valid is None else self.valid[order]
        return Chunk(self.kind, self.length, data, valid)

    def present(self) -> np.ndarray[Any, Any]:
        if self.lazy is not None:
            return self.built().present()
        if self.valid is not None:
            return self.valid
        return np.full(self.length, self.kind != "null", dtype=bool)

    def as_kind(self, kind: Kind) -> Chunk:
        """This chunk's values as ``kind`` (which must be able to hold them)."""
        if kind == self.kind:
            return self
        if self.lazy is not None:
            return self.built().as_kind(kind)
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


def nbytes(chunk: Chunk) -> int:
    return 0 if chunk.data is None else int(chunk.data.nbytes)


def return_freed_memory() -> None:
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


def _build(
    patterns: Sequence[Repeat | Grid], n: int, pooled: bool = False
) -> np.ndarray[Any, Any]:
    """The values of ``patterns`` (all of one class), one after another."""
    if all(isinstance(p, Repeat) for p in patterns):
        values = [v for p in patterns if isinstance(p, Repeat) for v in p.values]
        counts = [c for p in patterns if isinstance(p, Repeat) for c in p.counts]
        built: np.ndarray[Any, Any] = np.repeat(np.array(values, dtype=object), counts)
        return built
    out = _empty(n, np.dtype(np.int64), pooled)
    at = 0
    for p in patterns:
        assert isinstance(p, Grid)
        rows, width = len(p.starts), len(p.offsets)
        view = out[at : at + rows * width].reshape(rows, width)
        np.add(p.starts[:, None], p.offsets[None, :], out=view)
        at += rows * width
    return out


def concat(chunks: list[Chunk], pooled: bool = False) -> Chunk:
    """The chunks as one (``pooled``: large numeric arrays from pyarrow's
    pool, see ``_empty``)."""
    kind = _common_kind({c.kind for c in chunks})
    n = sum(c.length for c in chunks)
    lazy = [c.lazy for c in chunks if c.lazy is not None]
    if lazy and len(lazy) == len(chunks) and len({type(p) for p in lazy}) == 1:
        return Chunk(kind, n, _build(lazy, n, pooled))  # built at once
    if lazy:
        chunks = [c.built() for c in chunks]
    if kind == "null":
        return Chunk("null", n)
    same = [c.as_kind(kind) for c in chunks]
    if len(same) == 1:
        one = same[0]
        if one.data is not None and not one.data.flags.writeable:
            # A view of a columnar page's body: the frame gets its own copy.
            copy = _empty(n, one.data.dtype, pooled)
            copy[...] = one.data
            return Chunk(one.kind, n, copy, one.valid)
        return one
    parts = [c.data for c in same if c.data is not None]
    out = _empty(n, parts[0].dtype, pooled) if parts else None
    data = np.concatenate(parts, out=out) if parts else None
    valid = None
    if any(c.valid is not None for c in same):
        valid = np.concatenate([c.present() for c in same])
    return Chunk(kind, n, data, valid)


# Columns at least this large take their memory from pyarrow's pool when
# pyarrow is installed: the C allocator maps such blocks afresh and the OS
# faults them in page by page for every frame (a frame of 40 MB: tens of ms),
# where the pool hands out what earlier frames gave back.
POOLED_COLUMN_BYTES = 1024 * 1024


def _empty(n: int, dtype: np.dtype[Any], pooled: bool) -> np.ndarray[Any, Any]:
    """An uninitialised array of ``n`` values; with ``pooled``, large numeric
    ones from pyarrow's pool (for pandas frames, which take the arrays as
    they are; polars and arrow frames copy them into their own allocators,
    where a pool keeping the memory would only add to the peak)."""
    size = n * dtype.itemsize
    if not pooled or dtype.kind not in "biuf" or size < POOLED_COLUMN_BYTES:
        return np.empty(n, dtype=dtype)
    try:
        import pyarrow as pa
    except ImportError:
        return np.empty(n, dtype=dtype)
    # A mutable buffer: the frame's column is writable, and keeps it alive.
    array: np.ndarray[Any, Any] = np.frombuffer(pa.allocate_buffer(size), dtype)
    return array


def json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def cast(chunk: Chunk, target: ColumnType) -> Chunk:
    """A chunk in a union schema's type: ints widened, the rest JSON text."""
    chunk = chunk.built()
    if target in ("int", "float", "bool") and chunk.kind in ("null", target):
        return chunk.as_kind(target)
    if target == "float" and chunk.kind == "int":
        return chunk.as_kind("float")
    if target == "str" and chunk.kind in ("null", "str"):
        return chunk.as_kind("str")
    # Values that do not fit the schema's type keep their data as JSON text.
    objects = chunk.as_kind("object").data
    assert objects is not None
    texts = object_array(map(json_text, objects), chunk.length)
    return Chunk("str", chunk.length, texts, chunk.as_kind("object").valid)


_NUMBERS_AND_TEXT = frozenset({int, float, str, _NONE})
_FLOATS_AND_TEXT = frozenset({float, str, _NONE})
_TEXT = frozenset({str, _NONE})
# Types as numpy comparison operands (compared elementwise with an object array).
_STR_TYPE: Any = str
_INT_TYPE: Any = int
_NONE_TYPE: Any = _NONE


def nonfinite_fixed(values: list[Any], kinds: set[type] | None = None) -> Chunk:
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


def chunk_of(values: list[Any], nonfinite_strings: bool) -> Chunk:
    types = set(map(type, values))
    if nonfinite_strings and str in types:
        return nonfinite_fixed(values, types)
    return Chunk.of(values, types)
