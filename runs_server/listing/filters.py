"""Compile W&B's MongoDB-style ``filters`` JSON into a parameterised SQL predicate.

The predicate reads the ``runs`` table (aliased ``runs``) of ``ddl.py``: plain
columns, ``config_q`` and ``summary_metrics_q`` (never the raw JSON columns) and
``tags``. Semantics, beyond what W&B documents, follow MongoDB:

- ``$ne``/``$nin`` match runs that lack the field; ``{"f": null}`` matches a
  missing field or a JSON null.
- Comparisons never match across types: numbers compare with numbers (booleans
  are not numbers), strings with strings, booleans with booleans (false < true).
- ``tags`` is matched element-wise: ``"t"``/``$eq`` = has tag t, ``$in`` = has
  any, ``$ne`` = lacks t, ``$nin`` = has none, ``$regex`` = some tag matches;
  ``$exists`` is true for every run (tags are always stored, maybe empty).
- Config and summary values that are arrays or objects are opaque: they are
  unequal to every scalar; reach inside objects with dotted keys.
- ``+Infinity``/``-Infinity`` are numbers: above/below every finite number.
  NaN satisfies no comparison and equals nothing (not even NaN), so ``$ne`` and
  ``$nin`` match it. A logged *string* ``"NaN"`` is a string. In a filter, the
  bare tokens ``NaN``/``Infinity``/``-Infinity`` are those numbers.
- Dates are zone-less UTC ISO strings compared as strings, so a prefix such as
  ``"2024-03-09T10"`` works; a trailing ``Z`` or ``+00:00`` is dropped.
- ``$regex`` is RE2, searched (not anchored), and only matches strings.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from runs_server.listing.errors import FilterError, show
from runs_server.listing.fields import (
    ColumnSource,
    DurationSource,
    ElementSource,
    JsonSource,
    TagsField,
    resolve_field,
)
from runs_server.listing.regex import REGEX_FUNCTION, compile_regex
from runs_server.listing.sql import FALSE, TRUE, Frag, and_, not_, or_

__all__ = ["FilterError", "compile_filter", "parse_filter"]

# Caps keep every accepted filter inside SQLite's limits (expression depth
# 1000, parser stack about 100 parentheses, 32766 parameters); tested.
MAX_FILTER_CHARS = 100_000
MAX_DEPTH = 12
MAX_NODES = 500
MAX_LIST = 1_000
MAX_PARAMS = 20_000

LOGICAL_OPS = ("$and", "$or", "$nor")
FIELD_OPS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$regex",
)
_ALL_OPS = " ".join(LOGICAL_OPS + FIELD_OPS)
_COMPARISONS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DATE = re.compile(
    r"[0-9]{4}(-[0-9]{2}(-[0-9]{2}([T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}"
    r"(\.[0-9]{1,9})?)?)?)?)?)?"
)
_DATE_FORM = (
    'a zone-less UTC ISO string such as "2024-03-09T10:00:00" '
    '(a prefix such as "2024-03-09T10" also works)'
)
_EXAMPLE = '{"state": "finished", "config.lr": {"$lt": 0.01}}'

Scalar = str | int | float | bool | None
AnySource = ColumnSource | DurationSource | JsonSource | ElementSource


def parse_filter(filters: str | None) -> dict[str, Any] | None:
    """Decode the raw ``filters`` JSONString; None when it filters nothing.

    None, "", "null" and "{}" filter nothing. Bare NaN/Infinity tokens decode
    to those floats (numbers, under the rules of this module's docstring).
    """
    if filters is None:
        return None
    if not isinstance(filters, str):
        raise FilterError(f"filters must be a JSON string such as {_EXAMPLE}")
    text = filters.strip()
    if not text:
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(
            f"filters are {len(text)} characters long; at most "
            f"{MAX_FILTER_CHARS} are accepted"
        )
    try:
        doc = json.loads(text)
    except RecursionError:
        raise FilterError(
            f"filters are nested too deeply; at most {MAX_DEPTH} levels of "
            "$and/$or/$nor are accepted"
        ) from None
    except ValueError as exc:
        raise FilterError(
            f"filters are not valid JSON ({exc}); accepted: a JSON object such "
            f"as {_EXAMPLE}"
        ) from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise FilterError(
            f"filters must be a JSON object such as {_EXAMPLE}, got {_kind(doc)}"
        )
    return doc or None


def compile_filter(filters: str | None) -> Frag:
    """The 0/1 SQL predicate over ``runs`` for the raw ``filters`` argument.

    Raises FilterError, with the problem and the accepted form, for any
    malformed filter.
    """
    doc = parse_filter(filters)
    if doc is None:
        return TRUE
    frag = _Compiler().document(doc, 0, "filters")
    if len(frag.params) > MAX_PARAMS:
        raise FilterError(
            f"filters need {len(frag.params)} SQL parameters; at most "
            f"{MAX_PARAMS} are accepted (use fewer or shorter $in lists)"
        )
    return frag


class _Compiler:
    def __init__(self) -> None:
        self.nodes = 0

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(
                f"filters have more than {MAX_NODES} conditions; accepted: at "
                f"most {MAX_NODES} (use $in for long lists of values)"
            )

    def document(self, doc: object, depth: int, where: str) -> Frag:
        self._count()
        if not isinstance(doc, dict):
            raise FilterError(
                f"{where} must be a JSON object such as {_EXAMPLE}, got {_kind(doc)}"
            )
        parts: list[Frag] = []
        for key, value in doc.items():
            if key in LOGICAL_OPS:
                parts.append(self.logical(key, value, depth))
            elif key.startswith("$"):
                raise FilterError(
                    f"unknown operator {show(key)} where a field is expected; "
                    f"accepted there: $and $or $nor or a field name"
                )
            else:
                parts.append(self.field(key, value))
        return and_(parts)

    def logical(self, op: str, value: object, depth: int) -> Frag:
        if depth >= MAX_DEPTH:
            raise FilterError(
                f"filters are nested too deeply; at most {MAX_DEPTH} levels of "
                "$and/$or/$nor are accepted"
            )
        if not isinstance(value, list) or not value:
            raise FilterError(
                f"{op} takes a non-empty list of filters such as "
                f'{{"{op}": [{{"state": "failed"}}, {{"tags": "best"}}]}}, '
                f"got {_kind(value)}"
            )
        children = [self.document(c, depth + 1, f"each item of {op}") for c in value]
        if op == "$and":
            return and_(children)
        if op == "$or":
            return or_(children)
        return not_(or_(children))

    def field(self, key: str, cond: object) -> Frag:
        source = resolve_field(key, FilterError)
        if not isinstance(cond, dict):
            return self.operator(source, key, "$eq", cond)
        if not cond:
            raise FilterError(
                f"empty condition on field {show(key)}; accepted: a value, or "
                f'an object of operators such as {{"$gte": 1}}'
            )
        if not all(op.startswith("$") for op in cond):
            raise FilterError(
                f"the condition on field {show(key)} is an object without "
                "operators; match nested keys with dotted fields such as "
                f'"config.a.b"; accepted operators: {" ".join(FIELD_OPS)}'
            )
        # A list, not a generator: and_ stops early, and every operator must
        # still be validated.
        return and_([self.operator(source, key, op, v) for op, v in cond.items()])

    def operator(
        self,
        source: ColumnSource | DurationSource | JsonSource | TagsField,
        key: str,
        op: str,
        operand: object,
    ) -> Frag:
        self._count()
        if op in LOGICAL_OPS:
            raise FilterError(
                f"operator {op} cannot be used on field {show(key)}; logical "
                "operators take a list of whole filters, e.g. "
                '{"$or": [{"state": "failed"}, {"state": "crashed"}]}; accepted '
                f"on a field: {' '.join(FIELD_OPS)}"
            )
        if op not in FIELD_OPS:
            raise FilterError(
                f"unknown operator {show(op)} on field {show(key)}; "
                f"accepted: {_ALL_OPS}"
            )
        if op == "$exists":
            if not isinstance(operand, bool):
                raise FilterError(
                    f"$exists on field {show(key)} takes true or false, "
                    f"got {_kind(operand)}"
                )
            if isinstance(source, TagsField):
                return TRUE if operand else FALSE
            missing = source.has_class(frozenset({"missing"}))
            return not_(missing) if operand else missing
        if op == "$ne":
            return not_(self.positive(source, key, "$eq", operand, op))
        if op == "$nin":
            return not_(self.positive(source, key, "$in", operand, op))
        return self.positive(source, key, op, operand, op)

    def positive(
        self,
        source: ColumnSource | DurationSource | JsonSource | TagsField,
        key: str,
        op: str,
        operand: object,
        shown_op: str,
    ) -> Frag:
        scalar: AnySource = source.element if isinstance(source, TagsField) else source
        if op == "$eq":
            frag = _eq(scalar, _operand(scalar, key, shown_op, operand))
        elif op == "$in":
            if not isinstance(operand, list):
                raise FilterError(
                    f"{shown_op} on field {show(key)} takes a list of values "
                    f'such as {{"{shown_op}": ["a", "b"]}}, got {_kind(operand)}'
                )
            if len(operand) > MAX_LIST:
                raise FilterError(
                    f"{shown_op} on field {show(key)} has {len(operand)} values; "
                    f"at most {MAX_LIST} are accepted"
                )
            values = [_operand(scalar, key, shown_op, v) for v in operand]
            frag = _in(scalar, values)
        elif op in _COMPARISONS:
            value = _operand(scalar, key, op, operand)
            if value is None:
                raise FilterError(
                    f"{op} on field {show(key)} needs a number, string or "
                    "boolean, got null"
                )
            frag = _compare(scalar, _COMPARISONS[op], value)
        else:
            frag = _regex(scalar, key, operand)
        return source.exists_any(frag) if isinstance(source, TagsField) else frag


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _eq(source: AnySource, value: Scalar) -> Frag:
    if _is_nan(value):
        return FALSE  # NaN equals nothing
    if value is None:
        return source.has_class(frozenset({"missing", "null"}))
    if isinstance(value, bool):
        return source.has_class(frozenset({"true" if value else "false"}))
    cls = "string" if isinstance(value, str) else "number"
    val = source.value()
    return and_(
        [
            source.has_class(frozenset({cls})),
            Frag(f"{val.sql} = ?", (*val.params, value)),
        ]
    )


def _in(source: AnySource, values: list[Scalar]) -> Frag:
    values = [v for v in values if not _is_nan(v)]  # NaN equals nothing
    parts: list[Frag] = []
    if any(v is None for v in values):
        parts.append(source.has_class(frozenset({"missing", "null"})))
    bools = {"true" if v else "false" for v in values if isinstance(v, bool)}
    if bools:
        parts.append(source.has_class(frozenset(bools)))
    numbers = [
        v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    strings = [v for v in values if isinstance(v, str)]
    val = source.value()
    for cls, group in (("number", numbers), ("string", strings)):
        if group:
            marks = ", ".join("?" * len(group))
            parts.append(
                and_(
                    [
                        source.has_class(frozenset({cls})),
                        Frag(f"{val.sql} IN ({marks})", (*val.params, *group)),
                    ]
                )
            )
    return or_(parts)


def _compare(source: AnySource, sql_op: str, value: str | int | float | bool) -> Frag:
    if _is_nan(value):
        return FALSE  # NaN satisfies no comparison
    classes: frozenset[str]
    if isinstance(value, bool):
        classes, value = frozenset({"true", "false"}), int(value)
    elif isinstance(value, str):
        classes = frozenset({"string"})
    else:
        classes = frozenset({"number"})
    val = source.value()
    return and_(
        [source.has_class(classes), Frag(f"{val.sql} {sql_op} ?", (*val.params, value))]
    )


def _regex(source: AnySource, key: str, pattern: object) -> Frag:
    if not isinstance(pattern, str):
        raise FilterError(
            f"$regex on field {show(key)} takes a pattern string such as "
            f'"^lr-[0-9]+", got {_kind(pattern)}'
        )
    if source.domain == "number":
        raise FilterError(
            f"$regex on field {show(key)}: the field holds numbers; accepted: "
            "$regex on string fields"
        )
    _check_text(pattern)
    compile_regex(pattern)
    val = source.value()
    return and_(
        [
            source.has_class(frozenset({"string"})),
            Frag(f"{REGEX_FUNCTION}(?, {val.sql})", (pattern, *val.params)),
        ]
    )


def _operand(source: AnySource, key: str, op: str, value: object) -> Scalar:
    """Validate and normalise one scalar operand for ``source``."""
    if isinstance(value, (dict, list)):
        raise FilterError(
            f"{op} on field {show(key)} got {_kind(value)}; accepted: a string, "
            "number, boolean or null (match nested keys with dotted fields "
            'such as "config.a.b")'
        )
    if source.domain == "date":
        if value is None:
            return None
        if isinstance(value, str):
            return _date(key, value)
        raise FilterError(
            f"field {show(key)} is a date; {op} needs {_DATE_FORM}, got {_kind(value)}"
        )
    if source.domain == "number" and not (value is None or _is_number(value)):
        raise FilterError(
            f"field {show(key)} is a number of seconds; {op} needs a number, "
            f"got {_kind(value)}"
        )
    if isinstance(value, str):
        _check_text(value)
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # SQLite integers are 64-bit; larger ones compare as reals.
        return value if _INT64_MIN <= value <= _INT64_MAX else float(value)
    if isinstance(value, float):
        return value
    raise FilterError(f"unsupported value {_kind(value)} for {op} on {show(key)}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _date(key: str, text: str) -> str:
    stripped = text
    for suffix in ("Z", "+00:00", "-00:00"):
        if len(text) > 10 and text.endswith(suffix):
            stripped = text[: -len(suffix)]
            break
    if not _DATE.fullmatch(stripped):
        raise FilterError(
            f"field {show(key)} is a date; accepted: {_DATE_FORM}, got {show(text)}"
        )
    return stripped.replace(" ", "T")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterError(
            "filter strings must be valid Unicode; got a lone surrogate "
            f"in {show(text)}"
        ) from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {show(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
