"""Columnar history: a page of runs' ``history``, ``sampledHistory`` (one spec)
or ``events`` as per-key arrays in one Arrow IPC stream.

No row is assembled. History comes from ``history_columns``: numeric chunks
are read from their binary forms (``store.column_chunks``) with
``numpy.frombuffer``, placed at their rows by ``searchsorted`` on the kept
steps, and become Arrow float64/int64 columns. Keys that are not all numbers
(text, media, bools, mixtures, integers past 64 bits) travel as one JSON text
per value (NaN tokens kept), marked ``runs.kind=json`` in the field's
metadata; the client decodes them as the JSON path decodes rows. Events rows
are stored as JSON text only, so they are decoded here (a run's system
metrics are a few hundred rows).

The stream's schema metadata ``runs`` holds the page: the run names in page
order, each run's row count (rows are grouped by run, in step order), and
the page info (``endCursor``, ``hasNextPage``). A client that asks for it
(``stepGrid``) may get ``_step`` there instead of as a column, as
``stepGrid: {"starts": [...], "offsets": [...]}``: the steps of the ``i``-th
run with rows are ``starts[i] + offsets`` (``columnar_fast.StepGrid``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from runs_server.history.columnar_fast import StepGrid, fast_columns, sample_positions
from runs_server.history.reads import Spec
from runs_server.history.sampling import sample_indices
from runs_server.store import column_chunks, jsonrows

__all__ = ["ARROW_STREAM_TYPE", "PageColumns", "arrow_stream", "read_columns"]

ARROW_STREAM_TYPE = "application/vnd.apache.arrow.stream"
JSON_KIND = b"json"

Values = np.ndarray[Any, Any] | list[Any]


@dataclass
class _Segment:
    """One run's values of one key: ``values[i]`` goes to row ``rows[i]``."""

    rows: np.ndarray[Any, Any]
    values: Values


@dataclass
class PageColumns:
    """A page's columns before encoding: per key, each run's segments."""

    counts: list[int] = field(default_factory=list)
    segments: dict[str, list[_Segment]] = field(default_factory=dict)
    step_grid: StepGrid | None = None  # then ``_step`` is no segment

    @property
    def total(self) -> int:
        return sum(self.counts)

    def add(
        self, key: str, offset: int, rows: np.ndarray[Any, Any], vals: Values
    ) -> None:
        self.segments.setdefault(key, []).append(_Segment(rows + offset, vals))


def _chunks_by_run(
    conn: sqlite3.Connection, run_ids: Sequence[int], keys: Sequence[str] | None
) -> dict[int, dict[str, list[tuple[Any, ...]]]]:
    marks = ",".join("?" * len(run_ids))
    sql = (
        # A _step column of ints holds its own steps: its values are not read.
        "SELECT run_id, key, first_step, last_step, step_bin, num_type, "
        "iif(key = '_step' AND num_type = 'i8', NULL, num_bin), exact, "
        # Nor the JSON text of a chunk whose values are binary.
        "iif(num_type IS NULL, vals, NULL) "
        f"FROM history_columns WHERE run_id IN ({marks})"
    )
    params: list[object] = list(run_ids)
    if keys is not None:
        sql += f" AND key IN ({','.join('?' * len(keys))})"
        params += list(keys)
    cursor = conn.cursor()
    cursor.row_factory = None
    out: dict[int, dict[str, list[tuple[Any, ...]]]] = {}
    for run_id, key, *chunk in cursor.execute(
        sql + " ORDER BY run_id, key, first_step", params
    ):
        out.setdefault(run_id, {}).setdefault(key, []).append(tuple(chunk))
    return out


def _column(chunks: list[tuple[Any, ...]]) -> tuple[np.ndarray[Any, Any], Values]:
    """A key's steps and exact values from its chunks, in step order."""
    steps = [column_chunks.steps_of(c[2], c[0], c[1]) for c in chunks]
    parts = [
        s if c[4] is None and c[6] is None else column_chunks.values(*c[3:])
        for s, c in zip(steps, chunks, strict=True)
    ]
    all_steps = steps[0] if len(steps) == 1 else np.concatenate(steps)
    if len(parts) == 1:
        return all_steps, parts[0]
    types = {p.dtype.str if isinstance(p, np.ndarray) else None for p in parts}
    if len(types) == 1 and None not in types:
        return all_steps, np.concatenate(parts)
    values: list[Any] = []
    for part in parts:  # mixed kinds: each value keeps its own type
        values += part.tolist() if isinstance(part, np.ndarray) else part
    return all_steps, values


def _take(values: Values, where: np.ndarray[Any, Any]) -> Values:
    if isinstance(values, np.ndarray):
        taken: np.ndarray[Any, Any] = values[where]
        return taken
    return [values[i] for i in where.tolist()]


def read_columns(
    conn: sqlite3.Connection,
    run_ids: Sequence[int],
    *,
    samples: int | None,
    spec: Spec | None = None,
    check: Callable[[], None] = lambda: None,
    step_grid: bool = False,
) -> PageColumns:
    """``history`` (``spec`` None: every key, rows sampled by ``samples``) or
    ``sampledHistory`` of one ``spec`` (the AND rule: rows holding every key
    of the spec) for the runs ``run_ids``, in that order. ``step_grid``:
    ``_step`` as a ``StepGrid`` where the page allows (``columnar_fast``)."""
    keys = None if spec is None else list(spec.keys)
    by_run = _chunks_by_run(conn, run_ids, keys)
    page = PageColumns()
    bounds = (None, None) if spec is None else (spec.min_step, spec.max_step)
    wanted = samples if spec is None else spec.samples
    fast = fast_columns(by_run, run_ids, keys, wanted, bounds, check, step_grid)
    if fast is not None:  # the usual page: no work per run
        page.counts, arrays, page.step_grid = fast
        whole = np.arange(page.total)
        for key, array in arrays.items():
            page.segments[key] = [_Segment(whole, array)]
        return page
    offset = 0
    for run_id in run_ids:
        check()
        chunks = by_run.get(run_id, {})
        if spec is None:
            if "_step" not in chunks:  # every stored row holds _step
                page.counts.append(0)
                continue
            columns = {key: _column(parts) for key, parts in chunks.items()}
            candidates = columns["_step"][0]
            wanted = samples
        else:
            if len(chunks) < len(spec.keys):  # a key no row holds
                page.counts.append(0)
                continue
            columns = {key: _bounded(_column(chunks[key]), spec) for key in spec.keys}
            candidates = _common_steps([c[0] for c in columns.values()])
            wanted = spec.samples
        indices = _sample(len(candidates), wanted)
        kept = candidates if indices is None else candidates[indices]
        for key, (steps, values) in columns.items():
            if steps is candidates or np.array_equal(steps, candidates):
                # The usual case: the key is in every candidate row, so only
                # the kept values are taken, by position, none searched.
                if len(kept):
                    taken = values if indices is None else _take(values, indices)
                    page.add(key, offset, np.arange(len(kept)), taken)
                continue
            rows = np.searchsorted(kept, steps)
            inside = rows < len(kept)
            hit = np.zeros(len(steps), dtype=bool)
            hit[inside] = kept[rows[inside]] == steps[inside]
            # A key none of the kept rows holds is no column of the page,
            # as it is no key of the JSON path's rows.
            if hit.all():
                if len(steps):
                    page.add(key, offset, rows, values)
            elif hit.any():
                where = np.flatnonzero(hit)
                page.add(key, offset, rows[where], _take(values, where))
        page.counts.append(len(kept))
        offset += len(kept)
    return page


def _sample(count: int, samples: int | None) -> np.ndarray[Any, Any] | None:
    """``sampling.sample_indices`` as an array (None: every row)."""
    if samples is None or samples >= count:
        return None
    return sample_positions(count, samples)


def _bounded(
    column: tuple[np.ndarray[Any, Any], Values], spec: Spec
) -> tuple[np.ndarray[Any, Any], Values]:
    steps, values = column
    if spec.min_step is None and spec.max_step is None:
        return column
    lo = 0 if spec.min_step is None else int(np.searchsorted(steps, spec.min_step))
    hi = len(steps)
    if spec.max_step is not None:
        hi = int(np.searchsorted(steps, spec.max_step, side="right"))
    return steps[lo:hi], values[lo:hi]


def _common_steps(steps: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    common = min(steps, key=len)
    for other in steps:
        if other is not common and not np.array_equal(other, common):
            common = common[np.isin(common, other, assume_unique=True)]
    return common


def read_events(
    conn: sqlite3.Connection,
    run_ids: Sequence[int],
    *,
    samples: int | None,
    check: Callable[[], None] = lambda: None,
) -> PageColumns:
    """``events`` of the runs as columns, sampled by ``samples`` per run."""
    marks = ",".join("?" * len(run_ids))
    cursor = conn.cursor()
    cursor.row_factory = None
    texts: dict[int, list[str]] = {run_id: [] for run_id in run_ids}
    for run_id, text in cursor.execute(
        f"SELECT run_id, row FROM events WHERE run_id IN ({marks}) "
        "ORDER BY run_id, timestamp, seq",
        list(run_ids),
    ):
        texts[run_id].append(text)
    page = PageColumns()
    offset = 0
    for run_id in run_ids:
        check()
        rows = texts[run_id]
        indices = sample_indices(len(rows), samples)
        kept = [jsonrows.loads(rows[i]) for i in indices]
        kept = [row for row in kept if isinstance(row, dict)]
        columns: dict[str, tuple[list[int], list[Any]]] = {}
        for i, row in enumerate(kept):
            for key, value in row.items():
                column = columns.setdefault(key, ([], []))
                column[0].append(i)
                column[1].append(value)
        for key, (at, values) in columns.items():
            page.add(key, offset, np.asarray(at, dtype=np.int64), _typed(values))
        page.counts.append(len(kept))
        offset += len(kept)
    return page


def _typed(values: list[Any]) -> Values:
    """Python values as a float64/int64 array when they all are one kind."""
    types = set(map(type, values))
    if types == {float}:
        return np.asarray(values, dtype=np.float64)
    if types == {int}:
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            pass
    return values


def _covers(total: int, segments: list[_Segment]) -> bool:
    """Whether the segments' rows are 0, 1, ..., total - 1 in order (each
    segment's rows increase, so its ends tell)."""
    at = 0
    for s in segments:
        n = len(s.rows)
        if n == 0 or s.rows[0] != at or s.rows[-1] != at + n - 1:
            return False
        at += n
    return at == total


def _arrow_column(pa: Any, total: int, segments: list[_Segment]) -> tuple[Any, bool]:
    """One key's page column and whether it is JSON text."""
    dtypes = {s.values.dtype.kind if isinstance(s.values, np.ndarray) else "O"
              for s in segments}  # fmt: skip
    if dtypes <= {"f", "i"}:
        dtype = np.int64 if dtypes == {"i"} else np.float64
        if _covers(total, segments):  # every row, in order: one concatenation
            only = segments[0].values if len(segments) == 1 else None
            if isinstance(only, np.ndarray) and only.dtype == dtype:
                return pa.array(only), False  # no copy: Arrow views it
            return pa.array(np.concatenate([s.values for s in segments],
                                           dtype=dtype)), False  # fmt: skip
        data = np.zeros(total, dtype=dtype)
        valid = np.zeros(total, dtype=bool)
        for s in segments:
            data[s.rows] = s.values
            valid[s.rows] = True
        mask = None if valid.all() else ~valid
        return pa.array(data, mask=mask), False
    texts: list[str | None] = [None] * total
    dumps = jsonrows.dumps
    for s in segments:
        vals = s.values.tolist() if isinstance(s.values, np.ndarray) else s.values
        for row, value in zip(s.rows.tolist(), vals, strict=True):
            texts[row] = dumps(value)
    return pa.array(texts, type=pa.large_string()), True


def arrow_stream(
    page: PageColumns, names: Sequence[str], end_cursor: str | None, has_next: bool
) -> memoryview:
    """The page as an Arrow IPC stream (see the module's docstring)."""
    import pyarrow as pa

    info: dict[str, Any] = {
        "runs": list(names),
        "counts": page.counts,
        "endCursor": end_cursor,
        "hasNextPage": has_next,
    }
    if page.step_grid is not None:
        grid = page.step_grid
        info["stepGrid"] = {"starts": grid.starts.tolist(),
                            "offsets": grid.offsets.tolist()}  # fmt: skip
    fields, arrays = [], []
    for key in sorted(page.segments):
        array, is_json = _arrow_column(pa, page.total, page.segments[key])
        meta = {b"runs.kind": JSON_KIND} if is_json else None
        fields.append(pa.field(key, array.type, metadata=meta))
        arrays.append(array)
    schema = pa.schema(fields, metadata={b"runs": orjson.dumps(info)})
    batch = pa.record_batch(arrays, schema=schema) if page.total else None

    def write(sink: Any) -> None:
        with pa.ipc.new_stream(sink, schema) as writer:
            if batch is not None:
                writer.write_batch(batch)

    # Measured first, then written once into a buffer of that size: no
    # growing stream copied as it grows, and no copy of it into bytes (the
    # reply sends the buffer itself; it comes from pyarrow's pool, reused
    # page after page rather than mapped afresh).
    size = pa.MockOutputStream()
    write(size)
    body = pa.allocate_buffer(size.size())
    write(pa.FixedSizeBufferWriter(body))
    return memoryview(body)
