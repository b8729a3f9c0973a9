"""Loading a JSON Lines export into the store.

One JSON object per line (blank lines and lines starting with ``#`` are
skipped; bare ``NaN``/``Infinity`` tokens are accepted). The ``type`` key says
what a line creates; the other keys are the keyword arguments of the matching
``Store`` method (``store.users.create``, ``store.runs.add``, ...)::

    {"type": "entity", "name": "demo"}
    {"type": "user", "username": "demo", "entity": "demo", "api_key": "...",
     "name": null, "email": null, "admin": false, "teams": []}
    {"type": "project", "entity": "demo", "name": "mnist", "private": false}
    {"type": "sweep", "project": "demo/mnist", "name": "abc123", "method": "bayes",
     "config": "...", "best_loss": 0.1, "run_count_expected": 20}
    {"type": "run", "project": "demo/mnist", "name": "1a2b3c4d", "state": "finished",
     "config": {"lr": 0.01}, "summary": {...}, "tags": ["x"], "group": null,
     "created_at": "2024-05-01T12:00:00", "user": "demo", "sweep": "abc123",
     "history": [{"_step": 0, "loss": 1.2}, ...], "events": [{"_timestamp": ...}]}
    {"type": "history", "project": "demo/mnist", "run": "1a2b3c4d", "rows": [...]}
    {"type": "events", "project": "demo/mnist", "run": "1a2b3c4d", "rows": [...]}

``config`` holds plain values (the store wraps them as W&B serves them). A run
line may carry its history and events inline; long histories can follow in
``history`` lines. Lines are applied in order, so referenced entities, users,
projects and runs must come first.

A run line's ``summary`` is the run's final summary, as W&B shows it after
``run.summary.update``: history rows loaded after it (inline or in later
``history`` lines of the same load) leave it as it is. A run line without
``summary`` gets each logged key's last value, as ``wandb.log`` gives.

A load is one store transaction: a bad line, a full disk, an interrupt or a
killed process leaves the store as it was, so the fixed file loads cleanly.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runs_server.store import Store, StoreError, StoreWriteError, jsonrows
from runs_server.store.errors import write_failure


def load_jsonl(
    store: Store, source: str | os.PathLike[str] | Iterable[str]
) -> dict[str, int]:
    """Load a JSON Lines export (a path or lines) into ``store``; returns counts."""
    if isinstance(source, (str, os.PathLike)):
        with Path(source).open(encoding="utf-8") as lines:
            return load_lines(store, lines)
    return load_lines(store, source)


def load_lines(store: Store, lines: Iterable[str]) -> dict[str, int]:
    """Apply every line to ``store`` in one transaction, or none of them.

    Returns how many of each type were loaded. A bad line raises
    ``StoreError`` naming it; a write the store cannot make (full, read-only,
    locked) raises ``StoreWriteError``, which names no line: the input is
    not at fault.
    """
    with store.transaction():
        return _apply_lines(store, lines)


def _apply_lines(store: Store, lines: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    pinned: set[int] = set()  # runs whose line gave their final summary
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            record = jsonrows.loads(text)
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                raise StoreError('each line must be a JSON object with a "type" key')
            kind = record.pop("type")
            _apply(store, kind, record, pinned)
        except StoreWriteError:
            raise
        except KeyError as exc:
            raise StoreError(f"line {number}: missing key {exc}") from exc
        except (
            ValueError,
            TypeError,
            AttributeError,  # a wrong JSON type, e.g. a list where an object goes
            OverflowError,  # an integer beyond SQLite's 64 bits
            sqlite3.Error,  # a duplicate or a missing required value
            StoreError,
        ) as exc:
            failure = write_failure(exc, store.path)
            if failure is not None:
                raise failure from exc
            raise StoreError(f"line {number}: {exc}") from exc
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _apply(store: Store, kind: str, record: dict[str, Any], pinned: set[int]) -> None:
    if kind == "entity":
        store.users.create_entity(record["name"])
    elif kind == "user":
        store.users.create(record.pop("username"), **record)
    elif kind == "project":
        store.projects.create(record.pop("entity"), record.pop("name"), **record)
    elif kind == "sweep":
        store.projects.create_sweep(record.pop("project"), record.pop("name"), **record)
    elif kind == "run":
        history = record.pop("history", ())
        events = record.pop("events", ())
        run = store.runs.add(record.pop("project"), record.pop("name", None), **record)
        if record.get("summary") is not None:
            pinned.add(run)
        if history:
            store.history.log(run, history, update_summary=run not in pinned)
        if events:
            store.history.log_events(run, events)
    elif kind in ("history", "events"):
        run = store.runs.id_of(record["project"], record["run"])
        if kind == "history":
            store.history.log(run, record["rows"], update_summary=run not in pinned)
        else:
            store.history.log_events(run, record["rows"])
    else:
        raise StoreError(
            f"unknown line type {kind!r}; expected entity, user, project, sweep, "
            "run, history or events"
        )
