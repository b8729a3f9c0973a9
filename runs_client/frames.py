"""History rows to one pandas or polars DataFrame, built column by column.

Rows of many runs are appended into per-column lists (``Columns``) and turned
into a single frame at the end: no per-run frames and no concat, which is
both faster and keeps every column, even ones only some runs logged.

Column types: a column whose values are all numbers stays numeric (NaN and
+/-inf kept, missing values NaN in pandas and null in polars); all-bool stays
bool; everything else (strings, media dicts, lists, mixtures) keeps its
Python values as ``object`` (pandas) or ``pl.Object``/``pl.String`` (polars),
so mixed types never fail the conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RUN_ID", "Columns", "import_polars"]

RUN_ID = "run_id"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

Kind = Literal["int", "float", "bool", "str", "object", "null"]


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


_NONE = type(None)
_JSON_SCALARS = frozenset({_NONE, bool, int, float, str})


def _fits_int64(values: list[Any], only_ints: bool) -> bool:
    ints = values if only_ints else [v for v in values if type(v) is int]
    return min(ints) >= _INT64_MIN and max(ints) <= _INT64_MAX


def _kind(values: list[Any]) -> tuple[Kind, bool]:
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


def _kind_by_value(values: list[Any]) -> tuple[Kind, bool]:
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


class Columns:
    """Rows gathered column by column, with ``run_id`` as the first column."""

    def __init__(self, *, with_run_id: bool = True) -> None:
        self._with_run_id = with_run_id
        self._columns: dict[str, list[Any]] = {RUN_ID: []} if with_run_id else {}
        self._length = 0

    def __len__(self) -> int:
        return self._length

    def add_run(
        self, rows: Sequence[Mapping[str, Any]], run_id: str | None = None
    ) -> None:
        """Append one run's rows; keys the run lacks are filled with None."""
        if not rows:
            return
        n = len(rows)
        run_keys: dict[str, None] = {}
        for row in rows:
            run_keys.update(dict.fromkeys(row))
        if self._with_run_id:
            # Our run_id wins over a logged key of that name, as in the SDK.
            run_keys.pop(RUN_ID, None)
        for key in run_keys:
            column = self._columns.get(key)
            if column is None:
                column = self._columns[key] = [None] * self._length
            column.extend([row.get(key) for row in rows])
        for key, column in self._columns.items():
            if key == RUN_ID and self._with_run_id:
                column.extend([run_id] * n)
            elif key not in run_keys:
                column.extend([None] * n)
        self._length += n

    def add_runs(self, runs: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> None:
        """Append ``(run_id, rows)`` pairs in order."""
        for run_id, rows in runs:
            self.add_run(rows, run_id)

    def to_pandas(self) -> pd.DataFrame:
        """One pandas DataFrame with typed numeric columns."""
        data = {name: _pandas_column(values) for name, values in self._columns.items()}
        frame: pd.DataFrame = pd.DataFrame(data, index=pd.RangeIndex(self._length))
        return frame

    def to_polars(self) -> pl.DataFrame:
        """One polars DataFrame; non-uniform columns become ``pl.Object``."""
        pl_mod = import_polars()
        series = [
            _polars_column(pl_mod, name, values)
            for name, values in self._columns.items()
        ]
        frame: pl.DataFrame = pl_mod.DataFrame(series)
        return frame


def _pandas_column(values: list[Any]) -> Any:
    kind, missing = _kind(values)
    if kind == "int" and not missing:
        return np.array(values, dtype=np.int64)
    if kind in ("int", "float"):
        return np.array(values, dtype=np.float64)  # None becomes NaN
    if kind == "bool" and not missing:
        return np.array(values, dtype=bool)
    # Filled element by element: np.array would turn lists into extra dimensions.
    column = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        column[i] = v
    # An explicit object Series: pandas 3 would otherwise infer its str dtype
    # for text columns and turn None into NaN.
    return pd.Series(column, dtype=object, copy=False)


def _polars_column(pl_mod: Any, name: str, values: list[Any]) -> Any:
    kind, _ = _kind(values)
    if kind == "int":
        return pl_mod.Series(name, values, dtype=pl_mod.Int64)
    if kind == "float":
        floats = [None if v is None else float(v) for v in values]
        return pl_mod.Series(name, floats, dtype=pl_mod.Float64)
    if kind == "bool":
        return pl_mod.Series(name, values, dtype=pl_mod.Boolean)
    if kind == "str" or (kind == "null" and name == RUN_ID):
        return pl_mod.Series(name, values, dtype=pl_mod.String)
    if kind == "null":
        return pl_mod.Series(name, values, dtype=pl_mod.Null)
    return pl_mod.Series(name, values, dtype=pl_mod.Object)
