"""The usual columnar page, read with no work per run past a few lookups.

The usual page: every run's keys are each one numeric chunk (``f8``/``i8``,
or a ``_step`` column of ints, which holds its own steps) over the same
every-step range. Then a run's kept rows are positions in its chunks, the
same for every key: the step range cut by the spec's bounds, sampled by the
shared rule (``sample_positions``, cached per row count). Each key's
binary chunks are joined into one buffer, viewed once with
``numpy.frombuffer``, and only the kept positions of all runs are taken in
one indexing: the values a sampled read drops are never converted, and no
per-run array is built for them.

With ``step_grid`` (asked by the client), a page whose runs all keep the
same positions gives ``_step`` as a ``StepGrid`` instead of a column: each
run's first step, and the kept positions they share. Run ``i``'s steps are
``starts[i] + offsets``; the page carries a few numbers, not 8 bytes a row.

``fast_columns`` answers None when any run of the page is not the usual
case (a sparse key, text or mixed values, several chunks, keys differing
between runs in a ``history`` page); ``columnar.read_columns`` then reads
the page run by run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["Chunks", "StepGrid", "fast_columns", "sample_positions"]

Chunks = dict[int, dict[str, list[tuple[Any, ...]]]]
"""Per run, per key, its chunks: ``(first_step, last_step, step_bin,
num_type, num_bin, exact, vals)`` (``columnar._chunks_by_run``)."""

Array = np.ndarray[Any, Any]
_DTYPES = {"f8": np.dtype("<f8"), "i8": np.dtype("<i8")}
STEPS = "steps"  # the kind of a _step column of ints: its values are its steps
CHECK_EVERY = 256  # runs between two deadline / hang-up checks


@dataclass(frozen=True)
class StepGrid:
    """``_step`` of a page whose runs keep the same positions: the steps of
    its ``i``-th run with rows are ``starts[i] + offsets``."""

    starts: Array
    offsets: Array


@lru_cache(maxsize=256)
def sample_positions(count: int, samples: int | None) -> Array:
    """The kept positions of ``count`` rows sampled by ``samples`` (every row
    when None or at least ``count``): ``sampling.sample_indices``' integer
    rule, ceil(b * (n - 1) / (s - 1)), computed by numpy. Read-only: shared."""
    if samples is None or samples >= count:
        found = np.arange(count, dtype=np.int64)
    elif samples == 1:
        found = np.array([count - 1], dtype=np.int64)
    else:
        span, width = count - 1, samples - 1
        buckets = np.arange(samples, dtype=np.int64)
        found = -(-buckets * span // width)
    found.flags.writeable = False
    return found


def _kind(key: str, chunk: tuple[Any, ...]) -> str | None:
    """The chunk's kind when it is the usual one, else None."""
    step_bin, num_type, num_bin = chunk[2:5]
    if step_bin:  # not every step of its range
        return None
    if key == "_step" and num_type == "i8" and num_bin is None:
        return STEPS
    if num_type in _DTYPES and num_bin is not None:
        return str(num_type)
    return None


def fast_columns(
    by_run: Chunks,
    run_ids: Sequence[int],
    keys: Sequence[str] | None,
    samples: int | None,
    bounds: tuple[int | None, int | None] = (None, None),
    check: Callable[[], None] = lambda: None,
    step_grid: bool = False,
) -> tuple[list[int], dict[str, Array], StepGrid | None] | None:
    """Each run's kept row count and each key's page column (rows grouped by
    run, in step order), or None when the page is not the usual case.

    ``keys`` None: ``history`` (every key a run logged; a run without
    ``_step`` has no rows); else ``sampledHistory`` of those keys (a run
    lacking one has no rows). ``bounds``: the spec's inclusive step bounds.
    ``step_grid``: give ``_step`` as a ``StepGrid`` when the runs allow it.
    """
    min_step, max_step = bounds
    wanted = None if keys is None else set(keys)
    names: list[str] | None = None if keys is None else list(keys)
    kinds: dict[str, str] = {}
    blobs: dict[str, list[bytes]] = {}
    firsts: list[int] = []  # per run with rows: its chunks' first step
    positions: list[Array] = []  # per run with rows: kept positions in them
    counts: list[int] = []
    for at, run_id in enumerate(run_ids):
        if at % CHECK_EVERY == 0:
            check()
        chunks = by_run.get(run_id, {})
        if (keys is None and "_step" not in chunks) or (
            wanted is not None and len(chunks) < len(wanted)
        ):
            counts.append(0)  # as read_columns: no rows
            continue
        if names is None:
            names = sorted(chunks)
        elif keys is None and len(chunks) != len(names):
            return None  # runs with different keys: read run by run
        first = last = None
        for key in names:
            parts = chunks.get(key)
            if parts is None or len(parts) != 1:
                return None
            chunk = parts[0]
            kind = _kind(key, chunk)
            if kind is None or kinds.setdefault(key, kind) != kind:
                return None
            if first is None:
                first, last = chunk[0], chunk[1]
            elif (chunk[0], chunk[1]) != (first, last):
                return None  # a key some rows lack
        assert first is not None and last is not None
        lo = first if min_step is None else max(first, min_step)
        hi = last if max_step is None else min(last, max_step)
        kept = sample_positions(max(hi - lo + 1, 0), samples)
        counts.append(len(kept))
        if not len(kept):
            continue
        firsts.append(first)
        positions.append(kept + (lo - first) if lo != first else kept)
        for key in names:
            if kinds[key] != STEPS:
                blobs.setdefault(key, []).append(chunks[key][0][4])
    if not positions or names is None:
        return counts, {}, None
    grid = None
    # Not when _step is the page's only column: a stream without columns
    # holds no rows, and the grid would then describe rows that are not there.
    if step_grid and kinds.get("_step") == STEPS and len(names) > 1:
        shared = positions[0]
        if all(p is shared for p in positions):
            grid = StepGrid(np.asarray(firsts, dtype=np.int64), shared)
            names = [n for n in names if n != "_step"]
    return counts, _columns(names, kinds, blobs, firsts, positions), grid


def _columns(
    names: list[str],
    kinds: dict[str, str],
    blobs: dict[str, list[bytes]],
    firsts: list[int],
    positions: list[Array],
) -> dict[str, Array]:
    shared = positions[0]
    same = all(p is shared for p in positions)  # the usual: the same kept rows
    total = len(shared) * len(positions) if same else sum(map(len, positions))
    sizes = None if same else np.fromiter(map(len, positions), dtype=np.int64)
    local = None if same else np.concatenate(positions)

    def placed(starts: Array) -> Array:
        """Each run's kept positions plus its start, run after run."""
        if same:  # one broadcast addition
            grid: Array = starts[:, None] + shared[None, :]
            return grid.reshape(-1)
        assert local is not None and sizes is not None
        spread: Array = local + np.repeat(starts, sizes)
        return spread

    columns: dict[str, Array] = {}
    for key in names:
        if kinds[key] == STEPS:
            columns[key] = placed(np.asarray(firsts, dtype=np.int64))
            continue
        parts = blobs[key]
        dtype = _DTYPES[kinds[key]]
        data = np.frombuffer(b"".join(parts), dtype=dtype)
        if len(data) == total:  # every row of every chunk: all kept
            columns[key] = data
            continue
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        base = np.zeros(len(parts), dtype=np.int64)
        np.cumsum(lengths[:-1] // dtype.itemsize, out=base[1:])
        columns[key] = data[placed(base)]
    return columns
