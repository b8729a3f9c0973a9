"""Parse the ``order`` argument into a total SQL order with a keyset condition.

An order is ``+`` or ``-`` (ascending by default) and a field:
``created_at``/``createdAt`` (the default), ``heartbeat_at``/``heartbeatAt``,
``updated_at``/``updatedAt``, ``name``, ``displayName``/``display_name``,
``state``, ``group``, ``jobType``, ``host``, ``username``, ``sweep``,
``duration``, ``config.KEY(.value)`` and ``summary_metrics.KEY``.

Every order is total: after the field come ties broken by run id (``name``) in
the same direction, so a descending order is the exact reverse of the
ascending one, except that runs lacking the field come last in both.

Config and summary values of mixed types sort by type first, as MongoDB does:
null < numbers < strings < objects < arrays < booleans (false < true); numbers
by value, strings by code point; objects and arrays of one type tie (then run
id). +/-Infinity are numbers. NaN comes after every value and before runs that
lack the field, in both directions, as pandas sorts: a "top 5" by
``-summary_metrics.acc`` never shows diverged runs first.

The sort key is a tuple of non-NULL *components* (SQL expressions); the page
query selects them as ``_sort_key0``, ``_sort_key1``, ... and a cursor records
their values plus the run id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runs_server.listing.errors import OrderError, show
from runs_server.listing.fields import (
    ColumnSource,
    DurationSource,
    JsonSource,
    TagsField,
    resolve_field,
)
from runs_server.listing.sql import Frag

__all__ = ["Component", "OrderError", "SortOrder", "keyset_after", "parse_order"]

DEFAULT_ORDER = "+created_at"
# Far above any real field path; a long order once cost seconds per page.
MAX_ORDER_CHARS = 1_000

# What a component holds, so that cursors can be checked against it.
Kind = Literal["flag", "rank", "text", "number", "json"]

# json_type() to rank; the CASE below and the docstring above must agree.
_RANK_SQL = (
    "CASE {t} WHEN 'null' THEN 1 WHEN 'integer' THEN 2 WHEN 'real' THEN 2 "
    "WHEN 'text' THEN 3 WHEN 'object' THEN 4 WHEN 'array' THEN 5 "
    "WHEN 'true' THEN 6 WHEN 'false' THEN 6 ELSE 0 END"
)
_SCALAR_TYPES = "('integer', 'real', 'text', 'true', 'false')"


@dataclass(frozen=True)
class Component:
    """One part of the sort key: a never-NULL SQL expression and its direction."""

    expr: Frag
    descending: bool
    kind: Kind


@dataclass(frozen=True)
class SortOrder:
    """A parsed ``order``: ``canonical`` (e.g. "-config.lr") names it in cursors.

    The full order is ``components`` then ``runs.name`` in ``descending``
    direction. ``indexed`` means the runs_project_created index serves it.
    """

    canonical: str
    descending: bool
    components: tuple[Component, ...]
    indexed: bool

    def order_by(self) -> str:
        """The ORDER BY list, over the ``_sort_keyN`` result columns."""
        terms = [
            f"_sort_key{i} {'DESC' if c.descending else 'ASC'}"
            for i, c in enumerate(self.components)
        ]
        if self.indexed:
            # Name the column itself so SQLite walks the index in order.
            terms = [f"runs.created_at {'DESC' if self.descending else 'ASC'}"]
        terms.append(f"runs.name {'DESC' if self.descending else 'ASC'}")
        return ", ".join(terms)


def parse_order(order: str | None) -> SortOrder:
    """Parse ``order`` (None or "" = "+created_at"); OrderError if unknown."""
    if order is not None and len(order) > MAX_ORDER_CHARS:
        raise OrderError(
            f"order is {len(order):,} characters long; the limit is "
            f"{MAX_ORDER_CHARS:,}: pass +/- and one field, e.g. -summary_metrics.loss"
        )
    text = (order or "").strip() or DEFAULT_ORDER
    descending = text.startswith("-")
    field = text[1:] if text[0] in "+-" else text
    source = resolve_field(field, OrderError)
    if isinstance(source, TagsField):
        raise OrderError(
            f"cannot order by {show(field)} (a list); accepted: +/- followed by a "
            "field other than tags, e.g. -created_at or +summary_metrics.loss"
        )
    sign = "-" if descending else "+"
    canonical = f"{sign}{source.canonical}"
    comps: tuple[Component, ...]
    if isinstance(source, ColumnSource):
        if source.column == "name":
            return SortOrder(canonical, descending, (), False)
        col = f"runs.{source.column}"
        if source.not_null:
            comps = (Component(Frag(col), descending, "text"),)
            indexed = source.column == "created_at"
            return SortOrder(canonical, descending, comps, indexed)
        comps = (
            Component(Frag(f"({col} IS NULL)"), False, "flag"),
            Component(Frag(f"IFNULL({col}, '')"), descending, "text"),
        )
        return SortOrder(canonical, descending, comps, False)
    if isinstance(source, DurationSource):
        sql = source.SQL
        comps = (
            Component(Frag(f"({sql} IS NULL)"), False, "flag"),
            Component(Frag(f"IFNULL({sql}, 0)"), descending, "number"),
        )
        return SortOrder(canonical, descending, comps, False)
    return SortOrder(canonical, descending, _json_components(source, descending), False)


def _json_components(source: JsonSource, descending: bool) -> tuple[Component, ...]:
    jt = source.json_type()
    val = source.value()
    nan = source.is_nan()
    missing = Frag(f"({jt.sql} IS NULL)", jt.params)
    # NaN is an object in SQLite's eyes: rank and value 0, so the flag alone
    # places it (after every value, before missing, in both directions).
    nan_flag = Frag(f"({jt.sql} = 'object' AND {nan.sql})", (*jt.params, *nan.params))
    rank = Frag(
        f"CASE WHEN {nan_flag.sql} THEN 0 ELSE {_RANK_SQL.format(t=jt.sql)} END",
        (*nan_flag.params, *jt.params),
    )
    # Only scalars carry a value; null/object/array/missing collapse to 0 so
    # that every component is non-NULL and row-value comparisons are total.
    value = Frag(
        f"CASE WHEN {jt.sql} IN {_SCALAR_TYPES} THEN {val.sql} ELSE 0 END",
        (*jt.params, *val.params),
    )
    return (
        Component(missing, False, "flag"),
        Component(Frag(f"IFNULL({nan_flag.sql}, 0)", nan_flag.params), False, "flag"),
        Component(rank, descending, "rank"),
        Component(value, descending, "json"),
    )


def keyset_after(order: SortOrder, values: tuple[object, ...], name: str) -> Frag:
    """0/1 SQL: the run comes strictly after position (``values``, ``name``).

    Consecutive components with one direction become one row-value comparison,
    which SQLite can answer from an index for the default order.
    """
    exprs = [*order.components, Component(Frag("runs.name"), order.descending, "text")]
    bound = [*values, name]
    groups: list[tuple[bool, list[Frag], list[object]]] = []
    for comp, value in zip(exprs, bound, strict=True):
        if groups and groups[-1][0] == comp.descending:
            groups[-1][1].append(comp.expr)
            groups[-1][2].append(value)
        else:
            groups.append((comp.descending, [comp.expr], [value]))
    # Lexicographic: g1 > p1 OR (g1 = p1 AND (g2 > p2 OR ...)), built inside out.
    sql = ""
    params: tuple[object, ...] = ()
    for descending, frags, vals in reversed(groups):
        lhs, lhs_params = _row(frags)
        rhs = "(" + ", ".join("?" * len(vals)) + ")" if len(vals) > 1 else "?"
        after = f"{lhs} {'<' if descending else '>'} {rhs}"
        after_params = (*lhs_params, *vals)
        if not sql:
            sql, params = after, after_params
        else:
            sql = f"({after} OR ({lhs} = {rhs} AND {sql}))"
            params = (*after_params, *lhs_params, *vals, *params)
    return Frag(sql, params)


def _row(frags: list[Frag]) -> tuple[str, tuple[object, ...]]:
    params = tuple(p for f in frags for p in f.params)
    if len(frags) == 1:
        return frags[0].sql, params
    return "(" + ", ".join(f.sql for f in frags) + ")", params
