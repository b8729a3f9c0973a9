"""A log call's rows taken as columns, without Python work per value.

``HistoryRows.log`` spends its time here: a file_stream post of the official
SDK carries thousands of rows at once (SDK 0.31 sends a short run's whole
history in one post at ``finish()``), and the SDK waits for the reply. So:

* ``text_batch``: text rows that each carry an integer ``_step`` (what the
  SDK sends) are decoded by msgspec in one ``map`` and their steps checked
  with numpy, instead of row by row; anything else (NaN tokens, a missing or
  float step, steps out of order) returns None and takes the row-by-row path,
  which also words the errors.
* ``split_columns``: when every row holds the same keys (in any order:
  wandb-core's order varies from row to row), one ``itemgetter`` map per key;
  else rows are grouped by their key tuple (a training loop logs a few
  shapes of row), each group split into columns by one ``zip(*values)``, and
  a key's parts from several groups merged by step.
* ``type_counts``: each column's historyKeys type counts from one
  ``Counter(map(type, ...))``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

import msgspec
import numpy as np

from runs_server.store import jsonrows

__all__ = ["Batch", "Columns", "split_columns", "text_batch", "type_counts"]

_DECODE = msgspec.json.Decoder().decode
_STEP = itemgetter("_step")

Columns = dict[str, tuple[list[int], list[Any]]]
"""Per key (in order of first appearance): the steps of the rows holding it
and its values there, by increasing step."""


@dataclass(frozen=True)
class Batch:
    """Rows ready to store: decoded, their steps, their stored texts."""

    objs: list[dict[str, Any]]
    steps: list[int]
    texts: list[str]


def text_batch(rows: Sequence[str], last: int | None) -> Batch | None:
    """``rows`` (JSON texts) as a batch when each is an object with an int
    ``_step``, the steps increasing from past ``last``; else None."""
    if not rows:
        return None
    try:
        objs = list(map(_DECODE, rows))
    except msgspec.DecodeError:  # NaN tokens (or bad JSON): the careful path
        return None
    if set(map(type, objs)) != {dict}:
        return None
    try:
        steps = list(map(_STEP, objs))
    except KeyError:
        return None
    if set(map(type, steps)) != {int}:
        return None
    try:
        ordered = np.array(steps, dtype=np.int64)
    except OverflowError:
        return None
    if last is not None and steps[0] <= last:
        return None
    if len(steps) > 1 and not bool((np.diff(ordered) > 0).all()):
        return None
    return Batch(objs, steps, list(rows))


def split_columns(steps: list[int], objs: Sequence[dict[str, Any]]) -> Columns:
    """``objs`` (rows at ``steps``, increasing) split by key."""
    if objs:
        uniform = _same_keys(steps, objs)
        if uniform is not None:
            return uniform
    shapes = list(map(tuple, objs))
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(i)
    parts: dict[str, list[tuple[list[int], tuple[Any, ...]]]] = {}
    for shape, at in groups.items():
        if not shape:  # rows holding no key
            continue
        rows = [objs[i] for i in at]
        where = [steps[i] for i in at]
        # One zip turns the group's rows into its columns (rows of one shape
        # list their keys, so their values, in the same order).
        for key, vals in zip(
            shape, zip(*map(dict.values, rows), strict=True), strict=True
        ):
            parts.setdefault(key, []).append((where, vals))
    columns: Columns = {}
    for key, pieces in parts.items():
        if len(pieces) == 1:
            columns[key] = (pieces[0][0], list(pieces[0][1]))
            continue
        # Steps are unique, so sorting the pairs compares steps only.
        pairs = sorted(
            zip(
                chain(*(p[0] for p in pieces)),
                chain(*(p[1] for p in pieces)),
                strict=True,
            ),
            key=_FIRST,
        )
        columns[key] = ([p[0] for p in pairs], [p[1] for p in pairs])
    return columns


def _same_keys(steps: list[int], objs: Sequence[dict[str, Any]]) -> Columns | None:
    """The columns when every row holds the same keys (as the first row; in
    any order), the usual case; else None. Rows of one length that each hold
    every key of the first row hold no other key."""
    keys = tuple(objs[0])
    if not keys or set(map(len, objs)) != {len(keys)}:
        return None
    try:
        return {key: (steps, list(map(itemgetter(key), objs))) for key in keys}
    except KeyError:
        return None


_FIRST = itemgetter(0)


_TYPE_KINDS: dict[type, str] = {
    float: "number",
    int: "number",
    str: "string",
    bool: "boolean",
    type(None): "nil",
    list: "list",
}


def type_counts(vals: Sequence[Any]) -> Counter[str]:
    """How many of ``vals`` have each historyKeys type (``jsonrows.type_name``)."""
    types = set(map(type, vals))
    if len(types) == 1 and (kind := _TYPE_KINDS.get(types.pop())) is not None:
        return Counter({kind: len(vals)})  # one type (the usual case): no count
    by_type = Counter(map(type, vals))
    if all(t in _TYPE_KINDS for t in by_type):
        kinds: Counter[str] = Counter()
        for t, n in by_type.items():
            kinds[_TYPE_KINDS[t]] += n
        return kinds
    # maps (media carry _type), tuples, subclasses: a closer look at each
    return Counter(map(jsonrows.type_name, vals))
