"""Fetching one run's history rows: argument checks, the three history
streams (full, sampled by keys, system events) and step-window scans.

The fetches are flows (``transport.flows``): ``Run`` and ``AsyncRun`` run
the same requests and checks on their own client. Everything here returns
plain row dicts; turning rows into frames is
the job of ``frames``, so ``Run.history`` and ``Runs.histories`` share both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, TypeGuard

import runs_gql

from .._exceptions import GraphQLError, InvalidArgumentError, NotFoundError
from ..transport.flows import Call, Flow, Steps, call
from ..transport.jsonio import dumps_compact
from .policy import StepWindows, lacks_sampled_history
from .rows import (
    fix_nonfinite_strings,
    normalise_steps,
    order_permutation,
    parse_line_groups,
)

__all__ = [
    "STREAMS",
    "Stream",
    "check_history_args",
    "check_keys",
    "check_scan_args",
    "history_keys_flow",
    "in_order",
    "parse_lines",
    "rows_flow",
    "sampled_lists_flow",
    "sampled_rows",
    "scan_steps",
    "scanned_sample_flow",
]

Stream = Literal["default", "system"]
# Steps per request when sampledHistory is read from full history instead.
SCAN_PAGE_STEPS = 1000
STREAMS: tuple[str, ...] = ("default", "system")


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass, but True is no sample count.
    return isinstance(value, int) and not isinstance(value, bool)


def check_keys(keys: object) -> None:
    """``keys`` must be None or a list of strings."""
    if keys is None:
        return
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InvalidArgumentError(
            f"keys must be a list of strings such as ['loss', 'acc'], or None for "
            f"every key; got {keys!r}."
        )


def check_history_args(
    samples: object, keys: object, x_axis: object, stream: object
) -> None:
    """Reject user mistakes before any request is sent."""
    if not _is_int(samples) or samples < 1:
        raise InvalidArgumentError(
            f"samples must be a positive integer (rows per run); got {samples!r}."
        )
    check_keys(keys)
    if not isinstance(x_axis, str) or not x_axis:
        raise InvalidArgumentError(
            f"x_axis must be the name of a logged key such as '_step'; got {x_axis!r}."
        )
    if stream not in STREAMS:
        raise InvalidArgumentError(
            f"stream must be 'default' (logged metrics) or 'system' (system "
            f"metrics); got {stream!r}."
        )
    if stream == "system" and keys is not None:
        raise InvalidArgumentError(
            "keys cannot be combined with stream='system': system metrics are "
            "returned whole. Drop keys, or use stream='default'."
        )


def check_scan_args(
    keys: object, page_size: object, min_step: object, max_step: object
) -> None:
    """Reject ``scan_history`` mistakes before any request is sent."""
    check_keys(keys)
    if not _is_int(page_size) or page_size < 1:
        raise InvalidArgumentError(
            f"page_size must be a positive integer (steps per request); "
            f"got {page_size!r}."
        )
    for name, value in (("min_step", min_step), ("max_step", max_step)):
        if value is not None and (not _is_int(value) or value < 0):
            raise InvalidArgumentError(
                f"{name} must be a non-negative integer step or None; got {value!r}."
            )


def parse_lines(
    lines: Sequence[str | None] | None, operation: str
) -> list[dict[str, Any]]:
    """Parse history/events lines (JSON strings, NaN allowed); skip non-objects.

    A line that is not JSON raises ``ServerError`` naming ``operation``.
    """
    rows = parse_line_groups([lines or []], operation)[0]
    normalise_steps(rows)
    return rows


def sampled_rows(values: Sequence[Any] | None) -> list[dict[str, Any]]:
    """One spec's ``sampledHistory`` rows, non-finite strings made floats."""
    rows = [r for r in values or () if isinstance(r, dict)]
    fix_nonfinite_strings(rows)
    normalise_steps(rows)
    return rows


def in_order(rows: list[dict[str, Any]], order_by: str) -> list[dict[str, Any]]:
    """Rows stably sorted by ``order_by``; the server usually sends them sorted."""
    order = order_permutation(rows, [len(rows)], order_by)
    return rows if order is None else [rows[i] for i in order]


def _missing_run(
    entity: str, project: str, run_id: str, has_project: bool
) -> NotFoundError:
    what = (
        f"Run {entity}/{project}/{run_id}"
        if has_project
        else f"Project {entity}/{project}"
    )
    return NotFoundError(f"{what} not found.")


def rows_flow(
    entity: str,
    project: str,
    run_id: str,
    *,
    samples: int,
    keys: list[str] | None,
    x_axis: str,
    stream: Stream,
) -> Flow[list[dict[str, Any]]]:
    """One run's history rows in step order (system events in time order).

    Same selection as the official SDK: no keys (None or ``[]``) gives sampled
    full rows, keys
    gives ``sampledHistory`` rows holding all of ``[x_axis, *keys]`` (the AND
    rule), ``stream="system"`` gives sampled system-metric events.
    """
    if stream == "system":
        events: runs_gql.RunEvents = yield call(
            "run_events", entity, project, run_id, samples=samples
        )
        if events.project is None or events.project.run is None:
            raise _missing_run(entity, project, run_id, events.project is not None)
        return in_order(
            parse_lines(events.project.run.events, "RunEvents"), "_timestamp"
        )
    if not keys:  # None or [] (as the SDK's `if keys:`): full rows
        full: runs_gql.RunHistory = yield call(
            "run_history", entity, project, run_id, samples=samples
        )
        if full.project is None or full.project.run is None:
            raise _missing_run(entity, project, run_id, full.project is not None)
        return in_order(parse_lines(full.project.run.history, "RunHistory"), "_step")
    # x_axis may also be among keys: ask for each key once.
    spec_keys = list(dict.fromkeys([x_axis, *keys]))
    spec = dumps_compact({"keys": spec_keys, "samples": samples})
    try:
        sampled: runs_gql.RunSampledHistory = yield call(
            "run_sampled_history", entity, project, run_id, specs=[spec]
        )
    except GraphQLError as exc:
        if not lacks_sampled_history(exc):
            raise
        rows = yield from scanned_sample_flow(
            entity, project, run_id, spec_keys, samples
        )
        return in_order(rows, "_step")
    if sampled.project is None or sampled.project.run is None:
        raise _missing_run(entity, project, run_id, sampled.project is not None)
    per_spec = sampled.project.run.sampled_history or []
    first = per_spec[0] if per_spec else None
    rows = sampled_rows(first)
    # Step order, as the server sends it (and the SDK keeps), never x_axis
    # order; without ``_step`` among the keys the server's order stands.
    return in_order(rows, "_step")


def sampled_lists_flow(
    entity: str,
    project: str,
    run_id: str,
    specs: Sequence[str],
    per_request: int,
) -> Flow[list[Any]]:
    """One run's ``sampledHistory`` lists, ``per_request`` specs a request;
    from full history (``scanned_sample_flow``) on a server without the field."""
    lists: list[Any] = []
    try:
        for begin in range(0, len(specs), per_request):
            sampled: runs_gql.RunSampledHistory = yield call(
                "run_sampled_history",
                entity,
                project,
                run_id,
                specs=list(specs[begin : begin + per_request]),
            )
            run = sampled.project.run if sampled.project else None
            lists.extend((run.sampled_history if run else None) or [])
    except GraphQLError as exc:
        if not lacks_sampled_history(exc):
            raise
        lists = []
        for spec in specs:
            parsed = json.loads(spec)
            rows = yield from scanned_sample_flow(
                entity, project, run_id, list(parsed["keys"]), int(parsed["samples"])
            )
            lists.append(rows)
    return lists


def scanned_sample_flow(
    entity: str,
    project: str,
    run_id: str,
    keys: list[str],
    samples: int,
) -> Flow[list[dict[str, Any]]]:
    """``sampledHistory``'s rows read from full history, for a server without
    it: rows holding every key, cut to them, in step order.

    The rows are scanned a step window at a time and every k-th one kept, k
    from the fewest rows any key was logged in (``historyKeys``), plus the
    last: at most ``samples`` rows are held, never the whole run.
    """
    info = yield from history_keys_flow(entity, project, run_id)
    last = info.get("lastStep")
    if not isinstance(last, int) or last < 0:
        return []
    stride = max(1, -(-_rows_holding(info, keys) // samples))
    kept: list[dict[str, Any]] = []
    latest: dict[str, Any] | None = None
    steps = scan_steps(
        entity,
        project,
        run_id,
        keys=keys,
        page_size=SCAN_PAGE_STEPS,
        min_step=0,
        stop_step=last + 1,
    )
    i = 0
    try:
        step = next(steps)
        while True:  # the scan's calls go up to our loop, its rows stay here
            if isinstance(step, Call):
                try:
                    result = yield step
                except Exception as exc:
                    step = steps.throw(exc)
                else:
                    step = steps.send(result)
                continue
            row: dict[str, Any] = step
            latest = row
            if i % stride == 0 and len(kept) < samples:
                kept.append(row)
            i += 1
            step = next(steps)
    except StopIteration:
        pass
    finally:
        steps.close()
    if latest is not None and kept[-1] is not latest:  # the last row, always
        if len(kept) == samples:
            kept[-1] = latest
        else:
            kept.append(latest)
    return kept


def _rows_holding(info: dict[str, Any], keys: list[str]) -> int:
    """An upper bound of the rows holding all ``keys``: the fewest of any key."""
    fewest = None
    for key in keys:
        entry = (info.get("keys") or {}).get(key)
        counts = entry.get("typeCounts") if isinstance(entry, dict) else None
        if isinstance(counts, list):
            total = sum(c.get("count", 0) for c in counts if isinstance(c, dict))
            fewest = total if fewest is None else min(fewest, total)
    return fewest if fewest is not None else 1 + int(info.get("lastStep") or 0)


def history_keys_flow(entity: str, project: str, run_id: str) -> Flow[dict[str, Any]]:
    """The run's ``historyKeys`` object (``{"lastStep": ..., "keys": ...}``)."""
    result: runs_gql.RunHistoryKeys = yield call(
        "run_history_keys", entity, project, run_id
    )
    if result.project is None or result.project.run is None:
        raise _missing_run(entity, project, run_id, result.project is not None)
    value = result.project.run.history_keys
    return value if isinstance(value, dict) else {}


def scan_steps(
    entity: str,
    project: str,
    run_id: str,
    *,
    keys: list[str] | None,
    page_size: int,
    min_step: int,
    stop_step: int,
) -> Steps[dict[str, Any]]:
    """Rows with ``min_step <= _step < stop_step``, at most ``page_size`` rows
    per request: a flow yielding the rows (``iterate``/``aiterate`` send its
    requests).

    Windows of steps adapt (``StepWindows``): one that came back empty grows,
    one that might have been sampled is asked again in halves, so the scan
    needs about ``rows / page_size`` requests however far apart the steps are,
    and always ends. With ``keys``, only rows holding all of them are
    yielded, projected to them.
    """
    windows = StepWindows(
        min_step, stop_step, width=page_size, rows=page_size, cap=page_size
    )
    while (window := windows.next()) is not None:
        low, high = window
        answer: runs_gql.RunHistoryWindow = yield call(
            "run_history_window",
            entity,
            project,
            run_id,
            min_step=low,
            max_step=high,
            samples=page_size,
        )
        if answer.project is None or answer.project.run is None:
            raise _missing_run(entity, project, run_id, answer.project is not None)
        rows = in_order(
            parse_lines(answer.project.run.history, "RunHistoryWindow"), "_step"
        )
        if windows.maybe_sampled(high, [len(rows)]):
            middle = rows[len(rows) // 2].get("_step")
            if windows.shrink(middle if isinstance(middle, int) else None):
                continue
        windows.done(high, len(rows))
        for row in rows:
            if keys is None:
                yield row
            elif all(k in row for k in keys):
                yield {k: row[k] for k in keys}
