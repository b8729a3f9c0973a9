"""History and event reads for a whole page of runs, one query per field.

Rows are served as stored: ``history`` and ``events`` pass the stored JSON
strings through. ``history`` and ``sampledHistory`` sample in SQL
(``sql_sample``) and get each run's list as one JSON array written by
SQLite: ``history`` from the stored row strings, ``sampledHistory`` from the
kept rows' values of the spec's keys, cut by SQLite, so no row becomes a
Python object. ``sampledHistory`` is strict JSON: non-finite numbers are the
strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, as W&B's consumers read
them.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from runs_server.history.sampling import MAX_SAMPLES, sample
from runs_server.history.sql_sample import Candidates, page_arrays
from runs_server.store import jsonrows
from runs_server.store.sqlfunctions import CUT_ROW_FUNCTION


class HistoryArgumentError(ValueError):
    """A history argument outside its accepted form."""


@dataclass(frozen=True)
class Spec:
    """One ``sampledHistory`` spec; ``max_step`` is inclusive."""

    keys: tuple[str, ...]
    samples: int | None = None
    min_step: int | None = None
    max_step: int | None = None


# Each key is one SQL condition; SQLite refuses an expression tree 1,000 deep.
MAX_KEYS_PER_SPEC = 200

SPEC_FORM = (
    'a JSON object like {"keys": ["_step", "loss"], "samples": 500, '
    '"minStep": 0, "maxStep": 99} (keys required)'
)


def check_samples(samples: object, what: str = "samples") -> int | None:
    if samples is None:
        return None
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise HistoryArgumentError(f"{what} must be an integer, got {samples!r}")
    if not 1 <= samples <= MAX_SAMPLES:
        raise HistoryArgumentError(
            f"{what} must be between 1 and {MAX_SAMPLES} per run, got {samples}"
        )
    return samples


def _step_bound(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise HistoryArgumentError(
            f"spec {name} must be an integer step, got {value!r}"
        )
    if not -(2**63) <= value < 2**63:  # SQLite integers are 64-bit
        raise HistoryArgumentError(
            f"spec {name} must be an integer step that fits in 64 bits, got {value}"
        )
    return value


def parse_spec(text: str) -> Spec:
    """Parse one ``sampledHistory`` spec, naming the accepted form on error."""
    try:
        raw = json.loads(text)
    except ValueError:
        raise HistoryArgumentError(
            f"sampledHistory spec is not valid JSON ({text[:80]!r}); "
            f"expected {SPEC_FORM}"
        ) from None
    if not isinstance(raw, dict):
        raise HistoryArgumentError(f"sampledHistory spec must be {SPEC_FORM}")
    keys = raw.get("keys")
    if (
        not isinstance(keys, list)
        or not keys
        or not all(isinstance(k, str) for k in keys)
    ):
        raise HistoryArgumentError(
            f"sampledHistory spec keys must be a non-empty list of strings; "
            f"expected {SPEC_FORM}"
        )
    unique = tuple(dict.fromkeys(keys))
    if len(unique) > MAX_KEYS_PER_SPEC:
        raise HistoryArgumentError(
            f"a sampledHistory spec takes at most {MAX_KEYS_PER_SPEC} keys, got "
            f"{len(unique)}: split the keys over several specs, or fetch full "
            "rows with history"
        )
    return Spec(
        keys=unique,
        samples=check_samples(raw.get("samples"), "spec samples"),
        min_step=_step_bound(raw.get("minStep"), "minStep"),
        max_step=_step_bound(raw.get("maxStep"), "maxStep"),
    )


def _ids(run_ids: Sequence[int]) -> str:
    return ",".join("?" * len(run_ids))


def _grouped(
    cursor: Iterable[tuple[Any, ...]], run_ids: Sequence[int]
) -> dict[int, list[Any]]:
    """``{run_id: [value, ...]}`` from ``(run_id, value)`` rows sorted by run."""
    out: dict[int, list[Any]] = {run_id: [] for run_id in run_ids}
    for run_id, group in itertools.groupby(cursor, key=lambda r: r[0]):
        out[run_id] = [r[1] for r in group]
    return out


def _plain(conn: sqlite3.Connection) -> sqlite3.Cursor:
    cursor = conn.cursor()
    cursor.row_factory = None  # tuples: no per-row Row objects on the hot path
    return cursor


def _bounds(
    column: str, min_step: int | None, max_step: int | None, *, max_inclusive: bool
) -> tuple[str, dict[str, object]]:
    """SQL bounding ``column`` by the steps given (named ``lo``/``hi``)."""
    sql, params = "1", dict[str, object]()
    if min_step is not None:
        sql += f" AND {column} >= :lo"
        params["lo"] = min_step
    if max_step is not None:
        sql += f" AND {column} {'<=' if max_inclusive else '<'} :hi"
        params["hi"] = max_step
    return sql, params


def fetch_history(
    conn: sqlite3.Connection,
    run_ids: Sequence[int],
    *,
    samples: int | None,
    min_step: int | None,
    max_step: int | None,
) -> dict[int, bytes]:
    """Stored rows of each run in ``[min_step, max_step)``, sampled per run,
    each run's as one encoded JSON array of the stored row strings.

    Sampled in SQL (``sql_sample``): only the kept rows' text is read, and
    SQLite quotes and joins it, so no row becomes a Python object.
    """
    where, params = _bounds("h.step", min_step, max_step, max_inclusive=False)
    rows = Candidates("history h", "history h", where, "json_quote(h.row)", params, "h")
    return page_arrays(conn, run_ids, rows, samples)


# Spec keys up to which the AND rule and the cut are written in SQL (each key
# adds to the expression tree SQLite caps at depth 1,000); specs with more
# keys decode their kept rows instead.
MAX_SQL_KEYS = 30


def _addressable(key: str) -> bool:
    """Whether SQLite's JSON path ``$."key"`` names exactly ``key``: SQLite 3.40
    compares the label with the key's raw text in the row, so a key holding
    a quote or a backslash (escaped in the text) is cut in Python instead."""
    return '"' not in key and "\\" not in key


def _and_rule(keys: Sequence[str], params: dict[str, object]) -> str:
    """SQL true for history rows ``h`` holding every key in ``keys``, decided on
    the stored key lists (``jsonrows.key_probes``) without decoding them."""
    where = "1"
    for j, key in enumerate(keys):
        if key == jsonrows.AMBIGUOUS_KEY:
            params[f"a{j}"] = key
            where += (
                f" AND EXISTS (SELECT 1 FROM json_each(h.keys) WHERE value = :a{j})"
            )
            continue
        params[f"a{j}"], params[f"b{j}"] = jsonrows.key_probes(key)
        where += f" AND (instr(h.keys, :a{j}) > 0 OR instr(h.keys, :b{j}) > 0)"
    return where


def fetch_sampled(
    conn: sqlite3.Connection, run_ids: Sequence[int], spec: Spec
) -> dict[int, bytes]:
    """Each run's rows holding all of ``spec.keys``, cut to those keys, sampled,
    each run's as one encoded JSON array.

    From the stored rows, in one statement: the AND rule on the stored key
    lists, the sample in SQL (``sql_sample``), and each kept row's object
    written by SQLite from its values' raw text (``->``), so only kept rows
    are parsed (by SQLite) and none becomes a Python object. A kept row with
    NaN/Infinity tokens (not JSON to SQLite) or a key SQLite cannot address
    is cut by ``rc_cut_row`` (``jsonrows.cut_text``), strict JSON as always.
    """
    if len(spec.keys) > MAX_SQL_KEYS or not all(map(_addressable, spec.keys)):
        return _fetch_sampled_decoding(conn, run_ids, spec)
    params: dict[str, object] = {"keys": orjson.dumps(spec.keys).decode()}
    # Every stored row holds _step, so _step never narrows the AND rule.
    where = _and_rule([k for k in spec.keys if k != "_step"], params)
    bounds, steps = _bounds("h.step", spec.min_step, spec.max_step, max_inclusive=True)
    params.update(steps)
    parts = []
    for j, key in enumerate(spec.keys):
        params[f"o{j}"] = ("{" if j == 0 else ",") + orjson.dumps(key).decode() + ":"
        params[f"p{j}"] = f'$."{key}"'
        parts.append(f":o{j} || (h.row -> :p{j})")
    # NULL when the row has non-finite tokens or a value SQLite cannot find;
    # such rows (rare) are cut in Python.
    sql_cut = (
        "CASE WHEN instr(h.row, 'NaN') = 0 AND instr(h.row, 'Infinity') = 0 "
        f"THEN {' || '.join(parts)} || '}}' END"
    )
    value = f"coalesce({sql_cut}, {CUT_ROW_FUNCTION}(h.row, :keys))"
    where = f"{where} AND {bounds}"
    rows = Candidates("history h", "history h", where, value, params, "h")
    return page_arrays(conn, run_ids, rows, spec.samples)


def _fetch_sampled_decoding(
    conn: sqlite3.Connection, run_ids: Sequence[int], spec: Spec
) -> dict[int, bytes]:
    """``fetch_sampled`` for specs of many keys: the AND rule on the stored key
    lists, sampled in SQL, the kept rows decoded and cut in Python."""
    where = f"run_id IN ({_ids(run_ids)})"
    params: list[object] = list(run_ids)
    for key in spec.keys:
        if key == jsonrows.AMBIGUOUS_KEY:
            where += " AND EXISTS (SELECT 1 FROM json_each(keys) WHERE value = ?)"
            params.append(key)
            continue
        # The AND rule in SQL, without decoding key lists (see key_probes).
        where += " AND (instr(keys, ?) > 0 OR instr(keys, ?) > 0)"
        params.extend(jsonrows.key_probes(key))
    if spec.min_step is not None:
        where += " AND step >= ?"
        params.append(spec.min_step)
    if spec.max_step is not None:
        where += " AND step <= ?"
        params.append(spec.max_step)
    sql = f"SELECT run_id, row FROM history WHERE {where} ORDER BY run_id, step"
    rows = _grouped(_plain(conn).execute(sql, params), run_ids)
    return {
        run_id: _project(sample(texts, spec.samples), spec.keys)
        for run_id, texts in rows.items()
    }


def _project(texts: list[str], keys: tuple[str, ...]) -> bytes:
    """The rows cut to ``keys``, as one encoded JSON array (strict JSON)."""
    return ("[" + ",".join(jsonrows.cut_text(t, keys) for t in texts) + "]").encode()


def fetch_events(
    conn: sqlite3.Connection, run_ids: Sequence[int], *, samples: int | None
) -> dict[int, list[str]]:
    """Stored system-metrics rows of each run by ``_timestamp``, sampled."""
    sql = (
        f"SELECT run_id, row FROM events WHERE run_id IN ({_ids(run_ids)}) "
        "ORDER BY run_id, timestamp, seq"
    )
    rows = _grouped(_plain(conn).execute(sql, list(run_ids)), run_ids)
    return {run_id: sample(texts, samples) for run_id, texts in rows.items()}
