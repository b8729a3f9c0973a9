"""Property tests: the SQL compiler against the plain-Python reference.

Random runs (nested configs, mixed types, missing keys, tags, states, dates,
NaN/Infinity in summaries) and random filter trees; the compiled SQL must select
exactly what ``reference_eval`` selects, in the reference order, across pages,
and keyset paging must survive inserts and deletes between pages.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_listing import reference_eval as ref
from tests.server_listing.conftest import (
    count,
    delete_run,
    fetch_page,
    insert_run,
    new_db,
    page_all,
)

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NAN, INF = float("nan"), float("inf")
KEYS = ["a", "b", "c d", "é", "value"]
TEXTS = ["a", "b", "", "ab", "A", "é", "NaN", "Infinity", "finished", "t1"]
TAGS = ["t1", "t2", "T3", "a"]
STATES = ["running", "finished", "crashed", "failed"]
DATES = [
    "2024-03-08T23:59:59",
    "2024-03-09T09:00:00",
    "2024-03-09T10:30:00",
    "2024-03-09T10:30:00.500000",
    "2024-03-10T00:00:00",
]
DATE_OPERANDS = [*DATES, "2024-03-09", "2024-03-09T10", "2024-03-09T10:30", "2024"]
PATTERNS = ["a", "^a", "b$", "", "é", "[0-9]", "(?i)a", "T10", "^t[12]$", "N"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0, 1e20, 3, NAN, INF, -INF]),
    st.sampled_from(TEXTS),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
optional_text = st.none() | st.sampled_from(TEXTS)


# Built once, not per drawn run: building and validating a strategy costs more
# than drawing from it.
_configs = st.dictionaries(
    st.sampled_from(KEYS), values.map(lambda v: {"value": v}), max_size=3
)
_summaries = st.dictionaries(st.sampled_from(KEYS), values, max_size=3)
_states = st.sampled_from(STATES)
_dates = st.sampled_from(DATES)
_optional_dates = st.none() | st.sampled_from(DATES)
_tag_lists = st.lists(st.sampled_from(TAGS), max_size=3, unique=True)


@st.composite
def runs(
    draw: st.DrawFn, prefix: str = "r", max_size: int = 10
) -> list[dict[str, Any]]:
    n = draw(st.integers(0, max_size))
    out = []
    for i in range(n):
        config = draw(_configs)
        out.append(
            {
                "name": f"{prefix}{i}",
                "display_name": draw(optional_text),
                "state": draw(_states),
                "group_name": draw(optional_text),
                "job_type": draw(optional_text),
                "host": draw(optional_text),
                "username": draw(optional_text),
                "sweep_name": draw(optional_text),
                "created_at": draw(_dates),
                "heartbeat_at": draw(_optional_dates),
                "updated_at": draw(_optional_dates),
                "config": config,
                "summary": draw(_summaries),
                "tags": draw(_tag_lists),
            }
        )
    return out


TEXT_FIELDS = ["name", "displayName", "display_name", "state", "group", "jobType"]
TEXT_FIELDS += ["host", "username", "sweep"]
DATE_FIELDS = ["createdAt", "created_at", "heartbeatAt", "heartbeat_at", "updatedAt"]
JSON_FIELDS = [
    "config.a",
    "config.a.value",
    "config.b.a",
    "config.a.value.é",
    "config.c d",
    "config.value",
    "config.a.value.value",
    "summary_metrics.a",
    "summaryMetrics.b",
    "summary_metrics.a.b",
    "summary_metrics.value.a",
]
NAMES = [f"r{i}" for i in range(6)]


def _operands(field: str) -> st.SearchStrategy[Any]:
    if field in DATE_FIELDS:
        return st.sampled_from(DATE_OPERANDS)
    if field == "duration":
        return st.sampled_from([0, 1, 0.5, -1, 3600, 5400.0, 86400, 3600.5])
    if field == "tags":
        return st.sampled_from([*TAGS, "zz"]) | scalars
    if field == "name":
        return st.sampled_from(NAMES) | scalars
    return scalars


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(
        st.sampled_from([*TEXT_FIELDS, *DATE_FIELDS, *JSON_FIELDS, "tags", "duration"])
    )
    operand = _operands(field)
    nullable = (
        operand | st.none() if field in DATE_FIELDS or field == "duration" else operand
    )
    ops = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"]
    if field != "duration":
        ops.append("$regex")
    chosen = draw(st.lists(st.sampled_from(ops), min_size=1, max_size=2, unique=True))
    cond: dict[str, Any] = {}
    for op in chosen:
        if op in ("$eq", "$ne"):
            cond[op] = draw(nullable)
        elif op in ("$in", "$nin"):
            cond[op] = draw(st.lists(nullable, max_size=4))
        elif op == "$exists":
            cond[op] = draw(st.booleans())
        elif op == "$regex":
            cond[op] = draw(st.sampled_from(PATTERNS))
        else:
            value = draw(operand)
            cond[op] = 1 if value is None else value
    if chosen == ["$eq"] and draw(st.booleans()):
        return {field: cond["$eq"]}  # plain value = equality
    return {field: cond}


filters = st.recursive(
    leaves(),
    lambda inner: (
        st.builds(
            lambda op, kids: {op: kids},
            st.sampled_from(["$and", "$or", "$nor"]),
            st.lists(inner, min_size=1, max_size=3),
        )
        | st.lists(inner, min_size=2, max_size=2).map(lambda ds: {**ds[0], **ds[1]})
    ),
    max_leaves=8,
)

ORDER_FIELDS = [
    "created_at", "createdAt", "heartbeat_at", "heartbeatAt", "updatedAt", "name",
    "displayName", "display_name", "state", "group", "duration", "config.a",
    "config.a.value", "config.b.a", "summary_metrics.a", "summaryMetrics.b",
    "summary_metrics.a.b",
]  # fmt: skip
orders = st.one_of(
    st.none(),
    st.just(""),
    st.builds(
        lambda s, f: s + f,
        st.sampled_from(["", "+", "-"]),
        st.sampled_from(ORDER_FIELDS),
    ),
)


def _load(rs: list[dict[str, Any]]) -> Any:
    conn = new_db()
    for run in rs:
        insert_run(conn, run)
    # A decoy project with the same run ids must never leak in.
    for run in rs[:2]:
        insert_run(conn, run, project_id=2)
    return conn


@SETTINGS
@given(rs=runs(), flt=filters, per_page=st.integers(1, 4))
def test_filters_match_reference(
    rs: list[dict[str, Any]], flt: Any, per_page: int
) -> None:
    conn = _load(rs)
    text = json.dumps(flt)
    names = page_all(conn, text, None, per_page)
    expected = [r["name"] for r in rs if ref.matches(r, flt)]
    assert sorted(names) == sorted(expected), text
    assert len(names) == len(set(names)) == count(conn, text)


@SETTINGS
@given(rs=runs(), order=orders, flt=st.none() | filters, per_page=st.integers(1, 4))
def test_order_and_pages_match_reference(
    rs: list[dict[str, Any]], order: str | None, flt: Any, per_page: int
) -> None:
    conn = _load(rs)
    text = None if flt is None else json.dumps(flt)
    selected = [r for r in rs if flt is None or ref.matches(r, flt)]
    assert page_all(conn, text, order, per_page) == ref.sort_names(selected, order)


@SETTINGS
@given(
    rs=runs(max_size=12),
    extra=runs(prefix="n", max_size=8),
    order=orders,
    per_page=st.integers(1, 3),
    actions=st.lists(st.tuples(st.booleans(), st.integers(0, 50)), max_size=12),
)
def test_keyset_survives_inserts_and_deletes(
    rs: list[dict[str, Any]],
    extra: list[dict[str, Any]],
    order: str | None,
    per_page: int,
    actions: list[tuple[bool, int]],
) -> None:
    conn = _load(rs)
    alive = {r["name"] for r in rs}
    throughout = set(alive)
    pending = list(extra)
    yielded: list[str] = []
    after: str | None = None
    while True:
        page, after = fetch_page(conn, None, order, after, per_page)
        yielded += page
        if after is None:
            break
        if actions:
            insert, index = actions.pop(0)
            if insert and pending:
                run = pending.pop(0)
                insert_run(conn, run)
                alive.add(run["name"])
            elif alive:
                victim = sorted(alive)[index % len(alive)]
                delete_run(conn, victim)
                alive.discard(victim)
                throughout.discard(victim)
    assert len(yielded) == len(set(yielded)), yielded
    assert throughout <= set(yielded)


# -- NaN where it meets itself (issue 17 item 18) ------------------------------
# Random runs seldom store NaN under the very key a NaN operand filters, or in
# the field an order sorts by; these draw exactly those combinations.

NAN_SPOTS = {  # filter/order field -> how a run stores a value there
    "summary_metrics.a": lambda v: {"summary": {"a": v}},
    "summaryMetrics.b": lambda v: {"summary": {"b": v}},
    "config.a": lambda v: {"config": {"a": {"value": v}}},
    "config.b.a": lambda v: {"config": {"b": {"value": {"a": v}}}},
}
_MISSING = object()
_near_nan = st.sampled_from([NAN, NAN, 1.0, -1.5, 0, INF, -INF, "NaN", None, _MISSING])


@st.composite
def runs_with_nan_at(draw: st.DrawFn, field: str) -> list[dict[str, Any]]:
    """Runs (at least one storing NaN at ``field``) from ``runs()``, their
    value at ``field`` drawn from NaN and its neighbours (or missing)."""
    base = draw(runs(max_size=8))
    stored = draw(st.lists(_near_nan, min_size=len(base), max_size=len(base)))
    out = []
    for i, (run, value) in enumerate(zip(base, stored, strict=True)):
        run = {**run, "config": {}, "summary": {}}
        if i == 0:
            value = NAN  # the combination this block exists for
        if value is not _MISSING:
            run.update(NAN_SPOTS[field](value))
        out.append(run)
    return out


@st.composite
def nan_filters(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    field = draw(st.sampled_from(sorted(NAN_SPOTS)))
    rs = draw(runs_with_nan_at(field))
    op = draw(st.sampled_from(["$ne", "$nin", "$eq", "$in"]))
    others = draw(st.lists(st.sampled_from([1.0, INF, "NaN", None]), max_size=2))
    operand: Any = NAN if op in ("$ne", "$eq") else [NAN, *others]
    flt: dict[str, Any] = {field: {op: operand}}
    if draw(st.booleans()):
        flt = {"$nor": [flt]} if draw(st.booleans()) else {"$or": [flt, flt]}
    return field, rs, flt


@SETTINGS
@given(drawn=nan_filters(), per_page=st.integers(1, 3))
def test_nan_operands_against_stored_nan_match_reference(
    drawn: tuple[str, list[dict[str, Any]], dict[str, Any]], per_page: int
) -> None:
    _field, rs, flt = drawn
    conn = _load(rs)
    text = json.dumps(flt)  # NaN as the bare token the server accepts
    expected = [r["name"] for r in rs if ref.matches(r, flt)]
    assert sorted(page_all(conn, text, None, per_page)) == sorted(expected), text
    assert count(conn, text) == len(expected), text


@SETTINGS
@given(
    field=st.sampled_from(sorted(NAN_SPOTS)),
    data=st.data(),
    direction=st.sampled_from(["-", "-", "+", ""]),
    per_page=st.integers(1, 3),
)
def test_orders_over_stored_nan_match_reference(
    field: str, data: st.DataObject, direction: str, per_page: int
) -> None:
    rs = data.draw(runs_with_nan_at(field))
    conn = _load(rs)
    order = direction + field
    assert page_all(conn, None, order, per_page) == ref.sort_names(rs, order), order
