"""Named columns of a runs table (``runs_frame(runs, columns=[...])``): the
names accepted, the config and summary keys they need from the server, and
their values in each run."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ._exceptions import InvalidArgumentError
from .key_hints import Kind, fetch_project_keys, warn_missing
from .run import RunBase
from .runs import Runs

__all__ = [
    "RUN_COLUMNS",
    "RUN_FIELD_VALUES",
    "check_columns",
    "column_rows",
    "hint_missing",
    "path_value",
    "selecting",
    "top_level_keys",
]

#: The run fields a table shows, by column name, in this order.
RUN_FIELD_VALUES: dict[str, Callable[[RunBase[Any, Any]], Any]] = {
    "id": lambda run: run.id,
    "name": lambda run: run.name,
    "state": lambda run: run.state,
    "created_at": lambda run: run.created_at,
    "group": lambda run: run.group,
    "job_type": lambda run: run.job_type,
    "tags": lambda run: list(run.tags),
    "user": lambda run: run.user.username if run.user else None,
    "sweep": lambda run: run.sweep_name,
}
#: The run fields every table starts with, in this order.
RUN_COLUMNS = tuple(RUN_FIELD_VALUES)
_KINDS = ("config", "summary")
_MISSING = object()


def _split(name: str) -> tuple[Kind, str] | None:
    kind, dot, key = name.partition(".")
    if dot and key and kind == "config":
        return "config", key
    if dot and key and kind == "summary":
        return "summary", key
    return None


def check_columns(columns: object) -> list[str]:
    """The column names asked for, each once, in order; InvalidArgumentError
    naming the first malformed one (and the closest valid form)."""
    example = "['id', 'config.lr', 'summary.loss']"
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise InvalidArgumentError(
            f"columns must be a list of column names such as {example}; got "
            f"{columns!r}."
        )
    if not columns:
        raise InvalidArgumentError(
            f"columns is empty: name at least one column, e.g. {example}, or "
            "pass columns=None for every column."
        )
    for name in columns:
        if not isinstance(name, str):
            raise InvalidArgumentError(
                f"columns must be strings such as {example}; got {name!r}."
            )
        if name in RUN_COLUMNS or _split(name) is not None:
            continue
        close = difflib.get_close_matches(name, RUN_COLUMNS, n=1)
        bare = name.strip(".")
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else f"a config or summary key is 'config.{bare}' or 'summary.{bare}'"
        )
        raise InvalidArgumentError(
            f"columns names {name!r}, which is not a column: use a run field "
            f"({', '.join(RUN_COLUMNS)}), 'config.KEY' or 'summary.KEY' ({hint})."
        )
    return list(dict.fromkeys(columns))


def top_level_keys(keys: Iterable[str]) -> list[str]:
    """The top-level keys that may hold each dotted key: ``a.b.c`` is ``a``
    (nested), ``a.b`` or ``a.b.c`` (keys with dots in their names)."""
    found: dict[str, None] = {}
    for key in keys:
        parts = key.split(".")
        for end in range(1, len(parts) + 1):
            found[".".join(parts[:end])] = None
    return list(found)


def selecting(
    runs: Iterable[RunBase[Any, Any]], wanted: list[str]
) -> Iterable[RunBase[Any, Any]]:
    """``runs``, or, for an ``api.runs(...)`` nothing was read from yet, the
    same listing asking the server for only the keys ``wanted`` needs."""
    if not isinstance(runs, Runs) or runs.objects:
        return runs
    keys: dict[str, list[str]] = {kind: [] for kind in _KINDS}
    for name in wanted:
        split = _split(name)
        if split is not None:
            keys[split[0]].append(split[1])
    selected: Runs = runs.selecting(
        top_level_keys(keys["config"]),
        top_level_keys(keys["summary"]),
        run_fields=any(name in RUN_COLUMNS and name != "id" for name in wanted),
    )
    return selected


def path_value(values: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` in nested ``values`` (a key may itself hold
    dots), or ``_MISSING``."""
    if dotted in values:
        return values[dotted]
    parts = dotted.split(".")
    for end in range(1, len(parts)):
        child = values.get(".".join(parts[:end]))
        if isinstance(child, Mapping):
            found = path_value(child, ".".join(parts[end:]))
            if found is not _MISSING:
                return found
    return _MISSING


def column_rows(
    runs: Iterable[RunBase[Any, Any]], wanted: list[str]
) -> list[dict[str, Any]]:
    """One dict per run holding the ``wanted`` columns it has values for."""
    getters = [(name, RUN_FIELD_VALUES.get(name), _split(name)) for name in wanted]
    rows = []
    for run in runs:
        row: dict[str, Any] = {}
        for name, getter, split in getters:
            if getter is not None:
                row[name] = getter(run)
            elif split is not None:
                source = run.config if split[0] == "config" else run.summary
                value = path_value(source, split[1])
                if value is not _MISSING:
                    row[name] = value
        rows.append(row)
    return rows


def hint_missing(
    runs: Iterable[RunBase[Any, Any]],
    wanted: list[str],
    rows: list[dict[str, Any]],
) -> None:
    """``KeyWarning`` for each config or summary column no run has, naming
    the project's closest keys (one request, only when some column is
    empty and ``runs`` is an ``api.runs(...)``)."""
    if not rows or not isinstance(runs, Runs):
        return
    missing = [
        split
        for name in wanted
        if (split := _split(name)) is not None and all(name not in r for r in rows)
    ]
    if not missing:
        return
    keys = fetch_project_keys(runs.client, runs.entity, runs.project)
    if keys is not None:
        path = f"{runs.entity}/{runs.project}"
        warn_missing(missing, keys, path, "columns", summary_prefix="summary.")
