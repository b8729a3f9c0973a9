"""History and event reads for a whole page of runs, one query per field.

Rows are served as stored: ``history`` and ``events`` pass the stored JSON
strings through. ``history`` and ``sampledHistory`` sample in SQL
(``sql_sample``) and get each run's list as one JSON array written by
SQLite from the stored row strings. ``sampledHistory`` reads the spec's key
columns (``history_columns``: a key's steps and values as JSON arrays), so no
row is decoded, and builds only the kept rows. It is strict JSON: non-finite
numbers are the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, as W&B's
consumers read them.
"""

from __future__ import annotations

import bisect
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from runs_server.history.sampling import MAX_SAMPLES, sample, sample_indices
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


# Each key is one column read per run of the page: a bound on the work one
# spec may ask for (full rows are what `history` serves).
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


def _ids(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


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


def fetch_sampled(
    conn: sqlite3.Connection, run_ids: Sequence[int], spec: Spec
) -> dict[int, bytes]:
    """Each run's rows holding all of ``spec.keys``, cut to those keys, sampled,
    each run's as one encoded JSON array.

    From ``history_columns`` (per run and key, its steps and strict values as
    JSON arrays): only the spec's keys are read, each column is parsed in one
    C call, the AND rule compares step lists (equal lists, the usual case,
    are one comparison) and only the kept rows are built.
    """
    where = f"run_id IN ({_ids(run_ids)}) AND key IN ({_ids(spec.keys)})"
    params: list[object] = [*run_ids, *spec.keys]
    if spec.min_step is not None:
        where += " AND last_step >= ?"
        params.append(spec.min_step)
    if spec.max_step is not None:
        where += " AND first_step <= ?"
        params.append(spec.max_step)
    sql = (
        f"SELECT run_id, key, steps, vals FROM history_columns WHERE {where} "
        "ORDER BY run_id, key, first_step"
    )
    chunks: dict[int, dict[str, list[tuple[str, str]]]] = {}
    for run_id, key, steps, vals in _plain(conn).execute(sql, params):
        chunks.setdefault(run_id, {}).setdefault(key, []).append((steps, vals))
    return {run_id: _sampled_run(chunks.get(run_id, {}), spec) for run_id in run_ids}


Column = tuple[list[int], list[Any]]

# The columns are strict JSON written by the store; msgspec reads integers
# past 64 bits exactly (orjson would make them floats).
_DECODE = msgspec.json.Decoder().decode


def _column(parts: list[tuple[str, str]], spec: Spec) -> Column:
    """A key's steps and values from its chunks (in step order), within the
    spec's step bounds."""
    steps: list[int] = []
    vals: list[Any] = []
    for steps_text, vals_text in parts:
        steps += _DECODE(steps_text)
        vals += _DECODE(vals_text)
    lo = 0 if spec.min_step is None else bisect.bisect_left(steps, spec.min_step)
    hi = len(steps)
    if spec.max_step is not None:
        hi = bisect.bisect_right(steps, spec.max_step)
    if lo or hi < len(steps):
        return steps[lo:hi], vals[lo:hi]
    return steps, vals


def _sampled_run(chunks: dict[str, list[tuple[str, str]]], spec: Spec) -> bytes:
    """One run's ``sampledHistory`` list for ``spec`` from its key columns."""
    if len(chunks) < len(spec.keys):
        return b"[]"  # a key no row holds: the AND rule keeps nothing
    columns = {key: _column(chunks[key], spec) for key in spec.keys}
    # The AND rule: the steps of the key logged least often, kept where every
    # other key was logged too.
    steps = min((c[0] for c in columns.values()), key=len)
    for other, _ in columns.values():
        if other is not steps and other != steps:
            held = set(other)
            steps = [s for s in steps if s in held]
    indices = sample_indices(len(steps), spec.samples)
    kept = steps if isinstance(indices, range) else [steps[i] for i in indices]
    values = []
    for key_steps, vals in columns.values():
        if key_steps == steps:
            chosen = vals if isinstance(indices, range) else [vals[i] for i in indices]
        else:
            chosen = list(
                map(dict(zip(key_steps, vals, strict=True)).__getitem__, kept)
            )
        values.append(chosen)
    rows = list(
        map(dict, map(zip, itertools.repeat(spec.keys), zip(*values, strict=True)))
    )
    try:
        return compact(orjson.dumps(rows))
    except TypeError:  # integers past 64 bits, which orjson cannot write
        return jsonrows.dumps(rows).encode()


def compact(encoded: bytes) -> bytes:
    """``encoded`` in a block of its own size.

    orjson's result keeps the 4 KiB block it started writing in, however short
    it is: a page of 1,000 runs x 40 specs of one sampled row each held
    160 MB in them. Copying a short result gives that block back.
    """
    return bytes(memoryview(encoded)) if len(encoded) < 4096 else encoded


def fetch_events(
    conn: sqlite3.Connection,
    run_ids: Sequence[int],
    *,
    samples: int | None,
    charge: Callable[[int], None] | None = None,
) -> dict[int, list[str]]:
    """Stored system-metrics rows of each run by ``_timestamp``, sampled.

    Every row is read before sampling: ``charge`` is called with each
    EVENTS_CHARGE_ROWS rows as they are read (it raises to stop the read).
    """
    sql = (
        f"SELECT run_id, row FROM events WHERE run_id IN ({_ids(run_ids)}) "
        "ORDER BY run_id, timestamp, seq"
    )
    cursor: Iterable[tuple[Any, ...]] = _plain(conn).execute(sql, list(run_ids))
    if charge is not None:
        cursor = _charged(cursor, charge)
    rows = _grouped(cursor, run_ids)
    return {run_id: sample(texts, samples) for run_id, texts in rows.items()}


EVENTS_CHARGE_ROWS = 10_000


def _charged(
    rows: Iterable[tuple[Any, ...]], charge: Callable[[int], None]
) -> Iterator[tuple[Any, ...]]:
    """``rows``, calling ``charge`` ahead of each EVENTS_CHARGE_ROWS of them."""
    for index, row in enumerate(rows):
        if index % EVENTS_CHARGE_ROWS == 0:
            charge(EVENTS_CHARGE_ROWS)
        yield row
