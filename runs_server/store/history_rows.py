"""History and system-metrics (events) rows, appended to runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Any, cast

from runs_server.store import column_chunks, history_bulk, jsonrows
from runs_server.store.database import Database
from runs_server.store.errors import StoreError

Row = Mapping[str, Any] | str
"""A history or event row: a mapping, or its JSON text (NaN tokens allowed)."""


def _as_step(value: Any) -> int:
    # W&B rows sometimes carry _step as a float such as 3.0.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StoreError(f"_step must be a number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise StoreError(f"_step must be a whole number, got {value!r}")
    return int(value)


class HistoryRows:
    """The rows runs log: ``store.history``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def log(self, run: int, rows: Iterable[Row], *, update_summary: bool = True) -> int:
        """Append history rows to run ``run`` (a storage id); returns the count.

        Text rows are stored as given (so ``NaN`` tokens and ``"_step": 3.0``
        survive); mapping rows are encoded with bare NaN tokens. A row without
        ``_step`` gets the next step. Steps must increase. With
        ``update_summary`` the run's summary takes each key's last value, as
        W&B's does; dotted history keys (``val.acc``, how W&B flattens logged
        dicts) are nested again in the summary (``{"val": {"acc": ...}}``), so
        ``summary_metrics.val.acc`` filters and orders find them.
        """
        with self._db.transaction() as c:
            state = c.execute(
                "SELECT history_keys, last_step, summary_metrics FROM runs WHERE id=?",
                (run,),
            ).fetchone()
            if state is None:
                raise StoreError(f"no run with storage id {run}")
            counts = _type_counts(jsonrows.loads(state[0]))
            last: int | None = state[1]
            summary: dict[str, Any] = jsonrows.loads(state[2])
            rows = rows if isinstance(rows, list) else list(rows)
            batch = None
            if set(map(type, rows)) == {str}:
                batch = history_bulk.text_batch(cast("list[str]", rows), last)
            if batch is None:
                batch = _row_by_row(rows, last)
            logged, steps = batch.objs, batch.steps
            if steps:
                last = steps[-1]
            columns = history_bulk.split_columns(steps, logged)
            for key, (_, vals) in columns.items():
                per_key = counts.setdefault(key, {})
                for kind, n in history_bulk.type_counts(vals).items():
                    per_key[kind] = per_key.get(kind, 0) + n
            if update_summary:
                _update_summary(summary, logged)
            c.executemany(
                "INSERT INTO history (run_id, step, row) VALUES (?, ?, ?)",
                zip(repeat(run), steps, batch.texts),
            )
            records = column_chunks.records_of_columns(run, columns)
            c.executemany(column_chunks.INSERT_SQL, _onto_small_tails(c, run, records))
            keys_text = jsonrows.dumps(
                {
                    k: {
                        "typeCounts": [
                            {"type": t, "count": n} for t, n in kinds.items()
                        ]
                    }
                    for k, kinds in counts.items()
                }
            )
            c.execute(
                "UPDATE runs SET history_keys=?, last_step=?, "
                "history_line_count=history_line_count+? WHERE id=?",
                (keys_text, last, len(steps), run),
            )
            if update_summary and steps:
                c.execute(
                    "UPDATE runs SET summary_metrics=?, summary_metrics_q=? WHERE id=?",
                    (jsonrows.dumps(summary), jsonrows.dumps_query(summary), run),
                )
            return len(steps)

    def last_step(self, run: int) -> int | None:
        """The step of run ``run``'s last history row (None: no rows)."""
        with self._db.transaction() as c:
            row = c.execute("SELECT last_step FROM runs WHERE id=?", (run,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def texts(self, run: int, first: int, last: int) -> dict[int, str]:
        """The stored row texts of run ``run`` from step ``first`` to ``last``."""
        with self._db.transaction() as c:
            rows = c.execute(
                "SELECT step, row FROM history WHERE run_id=? AND step BETWEEN ? AND ?",
                (run, first, last),
            ).fetchall()
        return {int(step): str(text) for step, text in rows}

    def clear(self, run: int, *, history: bool = True, events: bool = True) -> None:
        """Delete run ``run``'s history rows (its keys and counts too) and/or
        its events; its summary and system metrics stay as they are."""
        with self._db.transaction() as c:
            if history:
                c.execute("DELETE FROM history WHERE run_id=?", (run,))
                c.execute("DELETE FROM history_columns WHERE run_id=?", (run,))
                c.execute(
                    "UPDATE runs SET history_keys='{}', history_line_count=0, "
                    "last_step=NULL WHERE id=?",
                    (run,),
                )
            if events:
                c.execute("DELETE FROM events WHERE run_id=?", (run,))

    def log_events(self, run: int, rows: Iterable[Row]) -> int:
        """Append system-metrics rows (each with ``_timestamp``); returns the count.

        The run's ``systemMetrics`` takes each non-underscore key's last value.
        """
        with self._db.transaction() as c:
            state = c.execute(
                "SELECT system_metrics, (SELECT max(seq) FROM events WHERE run_id=?) "
                "FROM runs WHERE id=?",
                (run, run),
            ).fetchone()
            if state is None:
                raise StoreError(f"no run with storage id {run}")
            system: dict[str, Any] = jsonrows.loads(state[0])
            seq = -1 if state[1] is None else int(state[1])
            records: list[tuple[int, int, float, str]] = []
            for row in rows:
                obj = jsonrows.loads(row) if isinstance(row, str) else dict(row)
                stamp = obj.get("_timestamp") if isinstance(obj, dict) else None
                if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
                    raise StoreError(
                        f"an event row needs a numeric _timestamp: {row!r:.80}"
                    )
                seq += 1
                text = row if isinstance(row, str) else jsonrows.dumps(obj)
                records.append((run, seq, float(stamp), text))
                system.update((k, v) for k, v in obj.items() if not k.startswith("_"))
            c.executemany(
                "INSERT INTO events (run_id, seq, timestamp, row) VALUES (?, ?, ?, ?)",
                records,
            )
            c.execute(
                "UPDATE runs SET system_metrics=? WHERE id=?",
                (jsonrows.dumps(system), run),
            )
            return len(records)


def _row_by_row(rows: Iterable[Row], last: int | None) -> history_bulk.Batch:
    """``rows`` decoded one by one: mapping rows, NaN tokens, rows without
    ``_step`` (they get the next step); the errors name the row at fault."""
    objs: list[dict[str, Any]] = []
    steps: list[int] = []
    texts: list[str] = []
    for row in rows:
        text = row if isinstance(row, str) else None
        obj = jsonrows.loads(row) if isinstance(row, str) else dict(row)
        if not isinstance(obj, dict):
            raise StoreError(f"a history row must be a JSON object, got {row!r:.80}")
        if obj.get("_step") is None:
            obj["_step"] = 0 if last is None else last + 1
            text = None
        step = _as_step(obj["_step"])
        if last is not None and step <= last:
            raise StoreError(
                f"history steps must increase: step {step} after step {last}"
            )
        objs.append(obj)
        steps.append(step)
        texts.append(text or jsonrows.dumps(obj))
        last = step
    return history_bulk.Batch(objs, steps, texts)


# A key's last chunk shorter than this (its steps' JSON text) takes the next
# log call's values instead of a new chunk, so a run logged a row at a time
# keeps few chunks per key (each read by sampledHistory) instead of one a row.
SMALL_CHUNK_CHARS = 8192


def _onto_small_tails(
    c: sqlite3.Connection, run: int, columns: list[column_chunks.ColumnRecord]
) -> list[column_chunks.ColumnRecord]:
    """``columns`` with each one whose key's last chunk is small appended to
    that chunk (same primary key, so it replaces it). Both are non-empty JSON
    arrays, so joining their texts is the array of both."""
    if not columns:
        return columns
    tails = {
        row[0]: row[1:]
        for row in c.execute(
            "SELECT key, first_step, last_step, steps, vals, step_bin, num_type, "
            "num_bin, "
            "exact FROM history_columns AS t "
            "WHERE run_id = ? AND length(steps) < ? AND first_step = "
            "(SELECT max(first_step) FROM history_columns "
            "WHERE run_id = t.run_id AND key = t.key)",
            (run, SMALL_CHUNK_CHARS),
        )
    }
    if not tails:
        return columns
    merged: list[column_chunks.ColumnRecord] = []
    for record in columns:
        run_id, key, lo, last, steps, vals, step_bin, num_type, num_bin, exact = record
        tail = tails.get(key)
        if tail is None:
            merged.append(record)
            continue
        first, tail_last, tail_steps, tail_vals, *tail_forms = tail
        forms = column_chunks.joined(
            (first, tail_last, tail_vals, *tail_forms),
            (lo, last, vals, step_bin, num_type, num_bin, exact),
        )
        steps = tail_steps[:-1] + "," + steps[1:]
        vals = tail_vals[:-1] + "," + vals[1:]
        merged.append((run_id, key, first, last, steps, vals, *forms))
    return merged


def _update_summary(summary: dict[str, Any], logged: list[dict[str, Any]]) -> None:
    """Apply logged rows to ``summary``: each key takes its last value.

    Applying only each key's last value gives the same summary as applying
    every row in order, unless one key is a dotted prefix of another
    (``val`` and ``val.acc``): then which was logged last decides, so the
    rows are applied one by one.
    """
    latest: dict[str, Any] = {}
    for obj in logged:
        latest.update(obj)
    parents = {
        key[:i] for key in latest if "." in key for i, ch in enumerate(key) if ch == "."
    }
    if parents.isdisjoint(latest):
        for key, value in latest.items():
            _set_nested(summary, key, value)
        return
    for obj in logged:
        for key, value in obj.items():
            _set_nested(summary, key, value)


def _set_nested(target: dict[str, Any], dotted: str, value: Any) -> None:
    """``target[a][b] = value`` for ``a.b``; a non-dict in the way is replaced."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[leaf] = value


def _type_counts(history_keys: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The stored historyKeys as ``{key: {type: count}}``, for updating."""
    counts: dict[str, dict[str, int]] = {}
    for key, info in history_keys.items():
        per_key = counts.setdefault(key, {})
        for entry in info.get("typeCounts", []):
            per_key[entry["type"]] = entry["count"]
    return counts
