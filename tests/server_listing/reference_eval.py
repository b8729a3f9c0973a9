"""A plain-Python model of run filters and orders, sharing no code with the compiler.

It reads runs as the tests hold them (dicts as given to ``conftest.insert_run``)
and implements the documented semantics directly: Mongo rules for missing fields
and types, tags element-wise, wrapped config values, dates as strings, missing
values last, ties by run id, and W&B's value rules for non-finite numbers:
+/-Infinity are numbers; NaN equals nothing and satisfies no comparison (so
``$ne``/``$nin`` match it); in an order NaN comes after every value and before
missing, in both directions (as pandas sorts); a logged string "NaN" is a
string.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

MISSING = object()

_SCALAR_FIELDS = {
    "name": "name",
    "displayName": "display_name",
    "display_name": "display_name",
    "state": "state",
    "group": "group_name",
    "jobType": "job_type",
    "host": "host",
    "username": "username",
    "sweep": "sweep_name",
    "createdAt": "created_at",
    "created_at": "created_at",
    "heartbeatAt": "heartbeat_at",
    "heartbeat_at": "heartbeat_at",
    "updatedAt": "updated_at",
    "updated_at": "updated_at",
}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _walk(doc: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return MISSING
        doc = doc[key]
    return doc


def field_value(run: dict[str, Any], field: str) -> Any:
    """The run's value of ``field``, or MISSING."""
    if field in _SCALAR_FIELDS:
        value = run.get(_SCALAR_FIELDS[field])
        if field in ("state", "createdAt", "created_at") and value is None:
            value = "finished" if field == "state" else "2024-01-01T00:00:00"
        return MISSING if value is None else value
    if field == "duration":
        start, end = run.get("created_at"), run.get("heartbeat_at")
        if start is None or end is None:
            return MISSING
        seconds = (
            dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)
        ).total_seconds()
        return round(seconds, 3)
    if field.startswith("config."):
        keys = field[len("config.") :].split(".")
        if len(keys) >= 2 and keys[1] == "value":
            keys = [keys[0], *keys[2:]]
        return _walk(run.get("config", {}), [keys[0], "value", *keys[1:]])
    for prefix in ("summary_metrics.", "summaryMetrics."):
        if field.startswith(prefix):
            return _walk(run.get("summary", {}), field[len(prefix) :].split("."))
    raise AssertionError(f"reference does not know field {field}")


def _kind(value: Any) -> str:
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if _is_nan(value):
        return "nan"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _date_operand(field: str, operand: Any) -> Any:
    dates = ("createdAt", "created_at", "heartbeatAt", "heartbeat_at")
    if field in dates and isinstance(operand, str) and operand.endswith("Z"):
        return operand[:-1]
    return operand


def _equal(value: Any, operand: Any) -> bool:
    if operand is None:
        return value is MISSING or value is None
    if _is_nan(value) or _is_nan(operand):
        return False  # NaN equals nothing, not even NaN
    return _kind(value) == _kind(operand) and value == operand


def _compare(value: Any, op: str, operand: Any) -> bool:
    if _is_nan(value) or _is_nan(operand):
        return False  # NaN satisfies no comparison
    if _kind(value) != _kind(operand):
        return False
    if op == "$gt":
        return bool(value > operand)
    if op == "$gte":
        return bool(value >= operand)
    if op == "$lt":
        return bool(value < operand)
    return bool(value <= operand)


def _positive(value: Any, op: str, operand: Any, field: str) -> bool:
    if op == "$eq":
        return _equal(value, _date_operand(field, operand))
    if op == "$in":
        return any(_equal(value, _date_operand(field, o)) for o in operand)
    if op == "$regex":
        return isinstance(value, str) and re.search(operand, value) is not None
    return _compare(value, op, _date_operand(field, operand))


def _condition(run: dict[str, Any], field: str, op: str, operand: Any) -> bool:
    if field == "tags":
        tags = run.get("tags", [])
        if op == "$exists":
            return bool(operand)
        if op == "$ne":
            return not any(_positive(t, "$eq", operand, field) for t in tags)
        if op == "$nin":
            return not any(_positive(t, "$in", operand, field) for t in tags)
        return any(_positive(t, op, operand, field) for t in tags)
    value = field_value(run, field)
    if op == "$exists":
        return bool((value is not MISSING) == operand)
    if op == "$ne":
        return not _positive(value, "$eq", operand, field)
    if op == "$nin":
        return not _positive(value, "$in", operand, field)
    return _positive(value, op, operand, field)


def matches(run: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Whether ``run`` satisfies the filter document ``flt``."""
    for key, cond in flt.items():
        if key == "$and":
            ok = all(matches(run, sub) for sub in cond)
        elif key == "$or":
            ok = any(matches(run, sub) for sub in cond)
        elif key == "$nor":
            ok = not any(matches(run, sub) for sub in cond)
        elif isinstance(cond, dict):
            ok = all(_condition(run, key, op, v) for op, v in cond.items())
        else:
            ok = _condition(run, key, "$eq", cond)
        if not ok:
            return False
    return True


_RANKS = {"null": 1, "number": 2, "string": 3, "bool": 6}


def _rank(value: Any) -> int:
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    return _RANKS[_kind(value)]


def sort_names(runs: list[dict[str, Any]], order: str | None) -> list[str]:
    """Run ids in ``order``: NaN after every value, then missing, in both
    directions; ties by run id in the order's direction."""
    text = (order or "").strip() or "+created_at"
    descending = text.startswith("-")
    field = text.lstrip("+-")
    if field == "name":
        return sorted((r["name"] for r in runs), reverse=descending)
    present, nans, absent = [], [], []
    for run in runs:
        value = field_value(run, field)
        if value is MISSING:
            absent.append(run["name"])
            continue
        if _is_nan(value):
            nans.append(run["name"])
            continue
        rank = _rank(value)
        plain = int(value) if isinstance(value, bool) else value
        key = plain if rank in (2, 3, 6) else 0
        present.append(((rank, key, run["name"]), run["name"]))
    present.sort(key=lambda item: item[0], reverse=descending)
    return (
        [name for _, name in present]
        + sorted(nans, reverse=descending)
        + sorted(absent, reverse=descending)
    )
