"""The column types every batch of ``iter_histories(union_schema=True)``
shares, from what the runs say they logged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .chunks import ColumnType, Schema
from .frames import RUN_ID
from .pages import HistoryQuery

__all__ = ["add_logged_types", "schema_from", "schema_of"]


class LoggedRun(Protocol):
    @property
    def history_keys(self) -> dict[str, Any]: ...

    @property
    def system_metrics(self) -> dict[str, Any]: ...


def schema_of(objects: Sequence[LoggedRun], query: HistoryQuery) -> Schema:
    """Column types every batch shares, from what the runs say they logged.

    History: the runs' ``historyKeys``, which tell numbers from text but not
    ints from floats, so numbers are float64 (``_step`` int64). System
    metrics: the types of each run's ``systemMetrics`` values (the last of
    each key), with ``_timestamp`` and ``_runtime`` as numbers. Text stays
    text, bools stay bools; a key whose runs logged several types, or media,
    maps and lists, is JSON text.
    """
    types: dict[str, set[str]] = {}
    add_logged_types(types, objects, query)
    return schema_from(types, query)


def add_logged_types(
    types: dict[str, set[str]], objects: Sequence[LoggedRun], query: HistoryQuery
) -> None:
    """Add the runs' logged types of each key to ``types`` (runs may come a
    page at a time: only the types are kept)."""
    for run in objects:
        logged = _system_types(run) if query.stream == "system" else _history_types(run)
        for key, kinds in logged.items():
            types.setdefault(key, set()).update(kinds)


def schema_from(types: dict[str, set[str]], query: HistoryQuery) -> Schema:
    """The schema of ``schema_of`` from the gathered ``types``."""
    wanted = query.row_keys or (
        [query.x_axis, *(query.keys or ())] if query.keys else sorted(types)
    )
    schema: Schema = {RUN_ID: "str"}
    for key in sorted(set(wanted) - {RUN_ID}):
        schema[key] = _column_type(key, types.get(key, set()))
    return schema


def _history_types(run: LoggedRun) -> dict[str, set[str]]:
    """Each history key's logged types (W&B's names) from ``historyKeys``."""
    keys = run.history_keys.get("keys")
    types: dict[str, set[str]] = {}
    for key, info in (keys if isinstance(keys, dict) else {}).items():
        seen = types.setdefault(key, set())
        counts = info.get("typeCounts") if isinstance(info, dict) else None
        for entry in counts if isinstance(counts, list) else ():
            if isinstance(entry, dict) and entry.get("type") != "nil":
                seen.add(str(entry.get("type")))
    return types


def _system_types(run: LoggedRun) -> dict[str, set[str]]:
    """Each system metric's type, in ``historyKeys``' names, from its last value."""
    types: dict[str, set[str]] = {"_timestamp": {"number"}, "_runtime": {"number"}}
    for key, value in run.system_metrics.items():
        if isinstance(value, bool):
            kind = "boolean"
        elif isinstance(value, (int, float)):
            kind = "number"
        else:
            kind = "string" if isinstance(value, str) else "other"
        types[key] = {kind}
    return types


def _column_type(key: str, seen: set[str]) -> ColumnType:
    if seen == {"number"}:
        return "int" if key == "_step" else "float"
    if seen == {"string"}:
        return "str"
    if seen == {"boolean"}:
        return "bool"
    return "json"
