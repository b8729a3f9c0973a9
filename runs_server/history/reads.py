"""History and event reads for a whole page of runs, one query per field.

Rows are served as stored: ``history`` and ``events`` pass the stored JSON
strings through. ``history`` and ``sampledHistory`` sample in SQL
(``sql_sample``) and get each run's list as one JSON array written by
SQLite: ``history`` from the stored row strings, ``sampledHistory`` from the
stored value texts of the spec's keys (``history_values``), so no row is
decoded or re-encoded. ``sampledHistory`` is strict JSON: its stored value
texts hold non-finite numbers as the strings ``"NaN"``, ``"Infinity"``,
``"-Infinity"``, as W&B's consumers read them.
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


_STEP_TEXT = (
    "SELECT s.value FROM history_values s WHERE s.run_id = v0.run_id "
    "AND s.key = '_step' AND s.step = v0.step"
)
_PLAIN_STEPS = (
    ", NOT EXISTS (SELECT 1 FROM history_values s WHERE s.run_id = v0.run_id "
    "AND s.key = '_step' AND s.value != CAST(s.step AS TEXT)) AS plain_steps"
)

# Spec keys up to which the AND rule and the cut are SQL joins (SQLite joins
# at most 64 tables); specs with more keys decode their kept rows instead.
MAX_JOINED_KEYS = 30


def fetch_sampled(
    conn: sqlite3.Connection, run_ids: Sequence[int], spec: Spec
) -> dict[int, bytes]:
    """Each run's rows holding all of ``spec.keys``, cut to those keys, sampled,
    each run's as one encoded JSON array.

    From ``history_values`` (each value's JSON text by run, key and step):
    the AND rule is a join on step, the sample is taken in SQL
    (``sql_sample``), and SQLite writes each kept row's object from the
    stored value texts, so no row is decoded or re-encoded.
    """
    if len(spec.keys) > MAX_JOINED_KEYS:
        return _fetch_sampled_decoding(conn, run_ids, spec)
    if len(spec.keys) == 2 and spec.keys[0] == "_step" != spec.keys[1]:
        # The usual spec (x axis and one key): its rows are stored whole.
        where, params = _bounds(
            "v0.step", spec.min_step, spec.max_step, max_inclusive=True
        )
        params["k0"] = spec.keys[1]
        rows = Candidates(
            "history_values v0",
            "history_values v0",
            f"v0.key = :k0 AND {where}",
            "v0.pair",
            params,
            "v0",
        )
        return page_arrays(conn, run_ids, rows, spec.samples)
    # Every stored row holds _step, so _step never narrows the AND rule.
    narrowing = [k for k in spec.keys if k != "_step"] or ["_step"]
    where, params = _bounds("v0.step", spec.min_step, spec.max_step, max_inclusive=True)
    where = f"v0.key = :k0 AND {where}"
    joins: list[str] = []
    alias: dict[str, str] = {}
    for j, key in enumerate(narrowing):
        params[f"k{j}"] = key
        alias[key] = f"v{j}.value"
        if j:
            joins.append(
                f" JOIN history_values v{j} ON v{j}.run_id = v0.run_id "
                f"AND v{j}.key = :k{j} AND v{j}.step = v0.step"
            )
    # _step, when not the driving key, is the step column itself in runs
    # whose _step texts are all canonical integers (no "3.0"): no lookup.
    alias.setdefault(
        "_step", f"CASE WHEN st.plain_steps THEN v0.step ELSE ({_STEP_TEXT}) END"
    )
    # One printf per row (one allocation) writes the object from the texts.
    params["fmt"] = (
        "".join(
            ("{" if j == 0 else ",")
            + orjson.dumps(key).decode().replace("%", "%%")
            + ":%s"
            for j, key in enumerate(spec.keys)
        )
        + "}"
    )
    value = f"printf(:fmt, {', '.join(alias[key] for key in spec.keys)})"
    tables = "history_values v0" + "".join(joins)
    rows = Candidates(tables, tables, where, value, params, "v0", _PLAIN_STEPS)
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
    """The rows cut to ``keys``, as one encoded JSON array."""
    parts: list[bytes] = []
    for text in texts:
        try:
            row = orjson.loads(text)
        except orjson.JSONDecodeError:
            # NaN/Infinity tokens: the stdlib reads them as floats; the
            # response must stay strict JSON, so they go out as the strings
            # "NaN", "Infinity", "-Infinity" (orjson would write null).
            row = json.loads(text)
            parts.append(orjson.dumps(jsonrows.wire_copy({k: row[k] for k in keys})))
        else:
            parts.append(orjson.dumps({k: row[k] for k in keys}))
    return b"[" + b",".join(parts) + b"]"


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
