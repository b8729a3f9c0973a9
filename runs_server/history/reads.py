"""History and event reads for a whole page of runs, one query per field.

Rows are served as stored: ``history`` and ``events`` return the stored JSON
strings untouched. ``sampledHistory`` must cut each row down to the spec's
keys, so only the rows it keeps are decoded; each run's list is returned as
one pre-encoded JSON array, strict JSON: non-finite numbers are the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"`` there, as W&B's consumers read them.
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


def fetch_history(
    conn: sqlite3.Connection,
    run_ids: Sequence[int],
    *,
    samples: int | None,
    min_step: int | None,
    max_step: int | None,
) -> dict[int, list[str]]:
    """Stored rows of each run in ``[min_step, max_step)``, sampled per run."""
    sql = f"SELECT run_id, row FROM history WHERE run_id IN ({_ids(run_ids)})"
    params: list[object] = list(run_ids)
    if min_step is not None:
        sql += " AND step >= ?"
        params.append(min_step)
    if max_step is not None:
        sql += " AND step < ?"
        params.append(max_step)
    sql += " ORDER BY run_id, step"
    rows = _grouped(_plain(conn).execute(sql, params), run_ids)
    return {run_id: sample(texts, samples) for run_id, texts in rows.items()}


def fetch_sampled(
    conn: sqlite3.Connection, run_ids: Sequence[int], spec: Spec
) -> dict[int, bytes]:
    """Each run's rows holding all of ``spec.keys``, cut to those keys, sampled."""
    sql = f"SELECT run_id, row FROM history WHERE run_id IN ({_ids(run_ids)})"
    params: list[object] = list(run_ids)
    for key in spec.keys:
        if key == jsonrows.AMBIGUOUS_KEY:
            sql += " AND EXISTS (SELECT 1 FROM json_each(keys) WHERE value = ?)"
            params.append(key)
            continue
        # The AND rule in SQL, without decoding key lists (see key_probes).
        sql += " AND (instr(keys, ?) > 0 OR instr(keys, ?) > 0)"
        params.extend(jsonrows.key_probes(key))
    if spec.min_step is not None:
        sql += " AND step >= ?"
        params.append(spec.min_step)
    if spec.max_step is not None:
        sql += " AND step <= ?"
        params.append(spec.max_step)
    sql += " ORDER BY run_id, step"
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
