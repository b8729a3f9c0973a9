"""The one row parser every history path shares (``Run.history``,
``scan_history`` and every ``histories()`` format).

Non-finite numbers reach us in two forms: bare ``NaN``/``Infinity`` tokens
inside history-line strings (and in the bodies of older servers), and the
strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` in JSON-typed fields such
as ``sampledHistory`` (strict-JSON servers). Both become floats here.

Lines are parsed a run (or a page) at a time as one JSON array: orjson when
the text holds no bare tokens, the standard library only for text that does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from .._exceptions import ServerError

__all__ = [
    "NONFINITE_STRINGS",
    "fix_nonfinite_strings",
    "has_nonfinite_strings",
    "normalise_steps",
    "order_permutation",
    "order_permutation_of_values",
    "ordering",
    "parse_line_groups",
]

NONFINITE_STRINGS: dict[str, float] = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
}
# '"-Infinity"' contains 'Infinity"': two scans of the body find all three.
_MARKERS = (b'"NaN"', b'Infinity"')


def has_nonfinite_strings(body: bytes) -> bool:
    """Whether a response body may hold non-finite numbers written as strings."""
    return any(marker in body for marker in _MARKERS)


def fix_nonfinite_strings(rows: list[dict[str, Any]]) -> None:
    """Turn ``"NaN"``/``"Infinity"``/``"-Infinity"`` values into floats, in place."""
    table = NONFINITE_STRINGS
    for row in rows:
        for key, value in row.items():
            if value.__class__ is str and value in table:
                row[key] = table[value]


def _loads_array(text: str, operation: str) -> list[Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        # Bare NaN/Infinity tokens (and raw control characters, which W&B has
        # stored): only the standard library reads them.
        try:
            value = json.loads(text, strict=False)
        except (ValueError, RecursionError) as exc:
            raise ServerError(
                f"{operation}: the server sent a history line that is not JSON "
                f"({type(exc).__name__}: {str(exc)[:200]}); the run's stored "
                "history is damaged, so report it to the server's operator."
            ) from None
    return value if isinstance(value, list) else []


def _dicts(values: list[Any]) -> list[dict[str, Any]]:
    if set(map(type, values)) <= {dict}:
        return values
    return [v for v in values if isinstance(v, dict)]


def _parse_mixed(lines: list[str]) -> list[Any] | None:
    """Lines of which some hold bare NaN/Infinity tokens: those (found by a
    substring test) with the standard library, the rest with orjson, each
    kind in one call. None when the rest is not strict JSON either."""
    special = ["NaN" in line or "Infinity" in line for line in lines]
    strict_lines = [line for line, odd in zip(lines, special, strict=True) if not odd]
    token_lines = [line for line, odd in zip(lines, special, strict=True) if odd]
    try:
        plain = iter(orjson.loads("[" + ",".join(strict_lines) + "]"))
        odd = iter(json.loads("[" + ",".join(token_lines) + "]", strict=False))
    except (ValueError, RecursionError):  # orjson's error is a ValueError too
        return None  # a line that is not JSON at all: the caller says which
    return [next(odd) if s else next(plain) for s in special]


def parse_line_groups(
    groups: Sequence[Sequence[str | None] | None], operation: str
) -> list[list[dict[str, Any]]]:
    """Parse groups of JSON lines (one group per run) into row dicts.

    The whole page is parsed as one JSON array when every line is strict JSON;
    otherwise each run's lines are, so only the runs holding bare tokens take
    the slow parser. Lines that are empty or not objects are skipped; a line
    that is not JSON at all raises ``ServerError`` naming ``operation``.
    """
    cleaned = [[line for line in group or () if line] for group in groups]
    counts = [len(group) for group in cleaned]
    lines = [line for group in cleaned for line in group]
    try:
        flat = orjson.loads("[" + ",".join(lines) + "]")
    except orjson.JSONDecodeError:
        mixed = _parse_mixed(lines)
        if mixed is None:
            return [
                _dicts(_loads_array("[" + ",".join(g) + "]", operation))
                for g in cleaned
            ]
        flat = mixed
    out: list[list[dict[str, Any]]] = []
    start = 0
    for count in counts:
        out.append(_dicts(flat[start : start + count]))
        start += count
    return out


def normalise_steps(rows: list[dict[str, Any]]) -> None:
    """W&B sometimes sends ``_step`` as a float such as 3.0; steps are integers."""
    steps = [row.get("_step") for row in rows]
    if float not in set(map(type, steps)):
        return
    for row, step in zip(rows, steps, strict=True):
        if step.__class__ is float and step.is_integer():
            row["_step"] = int(step)


def _order_values(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    try:
        array = np.array(values, dtype=np.float64)  # None becomes NaN
    except (TypeError, ValueError):
        array = np.array(
            [
                float(v)
                if isinstance(v, (int, float)) and not isinstance(v, bool)
                else math.nan
                for v in values
            ],
            dtype=np.float64,
        )
    # Rows lacking the key (or with a non-numeric one) keep their order, last.
    array[np.isnan(array)] = math.inf
    return array


def order_permutation(
    rows: Sequence[dict[str, Any]], counts: Sequence[int], key: str
) -> np.ndarray[Any, Any] | None:
    """The stable permutation putting each run's rows in ``key`` order, or None
    when they already are (the usual case: servers send rows in step order)."""
    return order_permutation_of_values([row.get(key) for row in rows], counts)


def order_permutation_of_values(
    values: Sequence[Any], counts: Sequence[int]
) -> np.ndarray[Any, Any] | None:
    """``order_permutation`` of the rows whose order key holds ``values``."""
    if len(values) < 2:
        return None
    return ordering(_order_values(values), counts)


def ordering(
    values: np.ndarray[Any, Any], counts: Sequence[int]
) -> np.ndarray[Any, Any] | None:
    """The stable permutation sorting ``values`` within each run's segment
    (``counts`` rows each), or None when they already are sorted."""
    if len(values) < 2:
        return None
    falls = values[1:] < values[:-1]
    if len(counts) > 1:
        # Where one run ends and the next begins, the key may fall.
        ends = np.cumsum(np.asarray(counts[:-1], dtype=np.int64)) - 1
        ends = ends[(ends >= 0) & (ends < len(falls))]
        falls[ends] = False
    if not falls.any():
        return None
    run_index = np.repeat(np.arange(len(counts)), counts)
    return np.lexsort((values, run_index))
