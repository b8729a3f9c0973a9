"""Sampling in SQL: each run's kept rows are chosen, read and joined by SQLite.

A sample keeps the rows ``sampling.sample_indices(n, samples)`` names, by
their position among a run's ``n`` candidate rows in step order. One
statement serves a whole page of runs, and Python sees one text per run (its
JSON array), never one per row:

* a run whose candidate steps are contiguous (``last - first + 1 == n``, the
  usual case) has a row's position at ``step - first``, so the rule is step
  arithmetic evaluated while SQLite walks the primary key;
* otherwise positions come from ``row_number()`` over the run's candidate
  steps (integers only) and the kept steps are looked up by primary key.

Either way only the kept rows' values are read, and SQLite writes the array
(``group_concat`` over rows in step order).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson


def kept_condition(position: str, count: str, samples: int | None) -> str:
    """SQL true exactly for the 0-based ``position`` values among ``count``
    rows that ``sample_indices(count, samples)`` keeps. ``position`` and
    ``count`` are SQL expressions; ``samples`` is an integer >= 1 or None."""
    if samples is None:
        return "1"
    samples = int(samples)  # checked already; int() keeps the SQL literal safe
    if samples == 1:
        return f"({count} <= 1 OR {position} = {count} - 1)"
    # Kept when floor(i*(s-1)/(n-1)) reaches a new value (see sample_indices);
    # both sides are >= 0 wherever they are compared, so SQLite's truncating
    # integer division is floor division.
    width, i, n = samples - 1, f"({position})", count
    return (
        f"({n} <= {samples} OR {i} = 0 "
        f"OR {i} * {width} / ({n} - 1) > ({i} - 1) * {width} / ({n} - 1))"
    )


@dataclass(frozen=True)
class Candidates:
    """A page's candidate rows: one per (run, step), as FROM/WHERE SQL.

    ``tables``: the FROM clause, its driving table aliased ``driver``, whose
    ``run_id`` and ``step`` columns identify a row; ``where``: the rest of the
    condition (step bounds); ``filters``: the FROM clause that decides which
    rows are candidates (``tables`` may join more, for values only);
    ``value``: the SQL text of a row's JSON element; ``params``: named
    parameters of all of these; ``run_columns``: more per-run columns of the
    ``st`` table ``value`` may read (``, <expr> AS <name>``; the run's
    ``driver.run_id`` is in scope).
    """

    tables: str
    filters: str
    where: str
    value: str
    params: Mapping[str, object]
    driver: str
    run_columns: str = ""


def page_arrays(
    conn: sqlite3.Connection,
    run_ids: Sequence[int],
    rows: Candidates,
    samples: int | None,
) -> dict[int, bytes]:
    """``{run_id: JSON array of its sampled rows}``, one SQL statement."""
    d = rows.driver
    step = f"{d}.step"
    mine = f"{d}.run_id = st.run_id AND {rows.where}"
    arithmetic = kept_condition(f"{step} - st.f", "st.n", samples)
    by_number = kept_condition("i", "st.n", samples)

    def array(where: str) -> str:
        return (
            "(SELECT '[' || group_concat(x, ',') || ']' FROM ("
            f"SELECT {rows.value} AS x FROM {rows.tables} WHERE {where} "
            f"ORDER BY {step}))"
        )

    numbered = (
        f"SELECT {step} AS step, row_number() OVER (ORDER BY {step}) - 1 AS i "
        f"FROM {rows.filters} WHERE {mine}"
    )
    kept_numbers = f"{step} IN (SELECT step FROM ({numbered}) WHERE {by_number})"
    sql = (
        f"WITH st AS (SELECT {d}.run_id AS run_id, min({step}) AS f, "
        f"max({step}) AS l, count(*) AS n{rows.run_columns} FROM {rows.filters} "
        f"WHERE {d}.run_id IN (SELECT value FROM json_each(:runs)) "
        f"AND {rows.where} GROUP BY {d}.run_id) "
        "SELECT st.run_id, CASE WHEN st.l - st.f + 1 = st.n "
        f"THEN {array(f'{mine} AND {arithmetic}')} "
        f"ELSE {array(f'{mine} AND {kept_numbers}')} "
        "END FROM st"
    )
    params = {**rows.params, "runs": orjson.dumps(list(run_ids)).decode()}
    out = dict.fromkeys(run_ids, b"[]")
    cursor = conn.cursor()
    cursor.row_factory = None
    for run_id, text in cursor.execute(sql, params):
        if text is not None:
            out[int(run_id)] = str(text).encode()
    return out
