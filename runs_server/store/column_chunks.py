"""A ``history_columns`` chunk in the forms its readers need without decoding
value by value.

Beside the two JSON arrays (``steps``, ``vals``: strict JSON, what
``sampledHistory`` serves), each chunk keeps (layout 6):

* ``step_bin``: its steps as little-endian int64, or empty when they are
  every step from ``first_step`` to ``last_step`` (the usual case: half the
  bytes to read for a numeric column);
* ``num_type``/``num_bin``: when every value is a float (``f8``) or every
  value an int within 64 bits (``i8``), the values as little-endian
  float64/int64 (NaN and the infinities kept), so a column is read with one
  ``numpy.frombuffer``. Ints and floats mixed in one chunk stay JSON: the
  frame of a mixed page keeps each value's own type (1 stays 1 next to text);
* ``exact``: only when ``vals`` loses something, i.e. a chunk that is not
  numeric holds a non-finite float (strict JSON writes it as the string
  ``"NaN"``, which a logged string looks like too): the values as JSON with
  bare ``NaN``/``Infinity`` tokens.

``values`` gives a chunk's exact values back: a numpy array for numeric
chunks, else a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import orjson

from runs_server.store import jsonrows

__all__ = [
    "INSERT_SQL",
    "BinaryForms",
    "ColumnRecord",
    "binary_forms",
    "column_records",
    "exact_text",
    "joined",
    "records_of_columns",
    "steps_of",
    "values",
]

BinaryForms = tuple[bytes, str | None, bytes | None, str | None]
"""``(step_bin, num_type, num_bin, exact)`` of one chunk."""

_DECODE = msgspec.json.Decoder().decode  # exact past 64 bits, unlike orjson
_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")
DTYPES: dict[str, np.dtype[Any]] = {"i8": _I8, "f8": _F8}


def binary_forms(steps: Sequence[int], vals: Sequence[Any], strict: str) -> BinaryForms:
    """The binary forms of a chunk of ``vals`` at ``steps``; ``strict`` is its
    ``vals`` text (``jsonrows.value_text``)."""
    dense = steps[-1] - steps[0] + 1 == len(steps)
    step_bin = b"" if dense else np.asarray(steps, dtype=_I8).tobytes()
    types = set(map(type, vals))
    if types == {float}:
        return step_bin, "f8", np.asarray(vals, dtype=_F8).tobytes(), None
    if types == {int}:
        try:
            return step_bin, "i8", np.asarray(vals, dtype=_I8).tobytes(), None
        except OverflowError:  # past 64 bits: JSON keeps them exact
            pass
    if "NaN" not in strict and "Infinity" not in strict:
        # No non-finite float (strict writes them as "NaN"/"Infinity"
        # strings): the exact text would hold no NaN token either.
        return step_bin, None, None, None
    exact = jsonrows.dumps(vals)
    if exact == strict or ("NaN" not in exact and "Infinity" not in exact):
        return step_bin, None, None, None
    # A differing text may differ only in escapes; keeping it costs nothing
    # but space, and it is the exact form.
    return step_bin, None, None, exact


def values(
    num_type: str | None, num_bin: bytes | None, exact: str | None, vals: str
) -> np.ndarray[Any, Any] | list[Any]:
    """A chunk's exact values: an array (numeric chunks) or a list."""
    if num_type is not None and num_bin is not None:
        return np.frombuffer(num_bin, dtype=DTYPES[num_type])
    if exact is not None:
        return list(jsonrows.loads(exact))
    return list(_DECODE(vals))


def exact_text(
    num_type: str | None, num_bin: bytes | None, exact: str | None, vals: str
) -> str | None:
    """The chunk's values as exact JSON when ``vals`` is not exact, else None."""
    if exact is not None:
        return exact
    if num_type == "f8" and num_bin is not None:
        floats = np.frombuffer(num_bin, dtype=_F8)
        if not np.isfinite(floats).all():
            return jsonrows.dumps(floats.tolist())
    return None


def steps_of(step_bin: bytes, first: int, last: int) -> np.ndarray[Any, Any]:
    """A chunk's steps as an int64 array."""
    if not step_bin:
        return np.arange(first, last + 1, dtype=np.int64)
    return np.frombuffer(step_bin, dtype=_I8)


Part = tuple[int, int, str, bytes, str | None, bytes | None, str | None]
"""A chunk for ``joined``: first and last step, ``vals``, ``BinaryForms``."""


def joined(first: Part, second: Part) -> BinaryForms:
    """The binary forms of two chunks of one key joined (``first`` holds
    the earlier steps)."""
    lo_a, hi_a, vals_a, steps_a, type_a, num_a, exact_a = first
    lo_b, hi_b, vals_b, steps_b, type_b, num_b, exact_b = second
    if not steps_a and not steps_b and hi_a + 1 == lo_b:
        step_bin = b""
    else:
        step_bin = (
            steps_of(steps_a, lo_a, hi_a).tobytes()
            + steps_of(steps_b, lo_b, hi_b).tobytes()
        )
    if type_a is not None and type_a == type_b and num_a is not None and num_b:
        return step_bin, type_a, num_a + num_b, None
    texts = [
        exact_text(type_a, num_a, exact_a, vals_a),
        exact_text(type_b, num_b, exact_b, vals_b),
    ]
    if texts == [None, None]:
        return step_bin, None, None, None
    a, b = (
        t if t is not None else v for t, v in zip(texts, (vals_a, vals_b), strict=True)
    )
    return step_bin, None, None, a[:-1] + "," + b[1:]


ColumnRecord = tuple[
    int, str, int, int, str, str, bytes, str | None, bytes | None, str | None
]
"""A ``history_columns`` row: run, key, first and last step, steps, values
(JSON), then ``BinaryForms``."""

INSERT_SQL = (
    "INSERT OR REPLACE INTO history_columns (run_id, key, first_step, last_step, "
    "steps, vals, step_bin, num_type, num_bin, exact) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def column_records(
    run: int, rows: Iterable[tuple[int, Mapping[str, Any]]]
) -> list[ColumnRecord]:
    """``history_columns`` rows of ``rows`` (``(step, row)`` by increasing step):
    one per key, its steps and its values as JSON arrays, the values strict
    JSON as ``sampledHistory`` serves them (``value_text``), and their
    binary forms."""
    columns: dict[str, tuple[list[int], list[Any]]] = {}
    for step, row in rows:
        for key, value in row.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = ([], [])
            column[0].append(step)
            column[1].append(value)
    return records_of_columns(run, columns)


def records_of_columns(
    run: int, columns: Mapping[str, tuple[list[int], list[Any]]]
) -> list[ColumnRecord]:
    """``history_columns`` rows of ``columns`` (per key: its steps, increasing,
    and its values there), as ``column_records``. Keys sharing one steps list
    (rows of one shape) share its JSON text."""
    records: list[ColumnRecord] = []
    step_texts: dict[int, str] = {}  # id of a steps list: its JSON text
    for key, (steps, vals) in columns.items():
        steps_text = step_texts.get(id(steps))
        if steps_text is None:
            steps_text = step_texts[id(steps)] = orjson.dumps(steps).decode()
        strict = jsonrows.value_text(vals)
        records.append(
            (
                run,
                key,
                steps[0],
                steps[-1],
                steps_text,
                strict,
                *binary_forms(steps, vals, strict),
            )
        )
    return records
