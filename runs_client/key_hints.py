"""Naming the closest keys when a filter, order or history key matches nothing.

A typo in a key (``summary_metrics.los``, ``config.lrr``) or in a run state
(``finishd``) gives an empty or default-ordered result that looks like an
answer. When a result is empty, or no loaded run has the order key, or a
history key came back in no row, the client asks the project's keys once
(``Project.runKeys``, a runs_server field; against a server without it the
check is skipped) and warns with ``KeyWarning`` naming the closest keys
(``difflib``). Results are never changed.
"""

from __future__ import annotations

import difflib
import sys
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import runs_gql

from ._exceptions import RunsClientError
from .transport.flows import Flow, arun, call, run

__all__ = [
    "RUN_FIELDS",
    "RUN_STATES",
    "KeyWarning",
    "Kind",
    "ProjectKeys",
    "ahinted_batches",
    "columns_of",
    "fetch_project_keys",
    "filter_fields",
    "has_path",
    "hinted_batches",
    "history_hint_flow",
    "order_field",
    "project_keys_flow",
    "warn_missing",
]

Kind = Literal["config", "summary", "history", "state"]

# Run fields a filter or order names by their own name: a bare key close to
# one (``config.stat``) most likely meant it.
RUN_FIELDS = (
    "name", "displayName", "state", "tags", "group", "jobType", "host",
    "username", "sweep", "createdAt", "heartbeatAt", "updatedAt", "duration",
)  # fmt: skip
RUN_STATES = (
    "running",
    "finished",
    "crashed",
    "failed",
    "killed",
    "preempted",
    "pending",
)
_CONFIG = ("config.",)
_SUMMARY = ("summary_metrics.", "summaryMetrics.")
_BOOLEAN = ("$and", "$or", "$nor")


class KeyWarning(UserWarning):
    """A filter, order or history key (or a state) that no run of the project
    has. ``kind`` is ``config``, ``summary``, ``history`` or ``state``; ``key``
    the key (or state) without prefix; ``closest`` the nearest that exist,
    as the server names them (``config.lr``, ``summary_metrics.loss``, a run
    field such as ``state``, a history key, a state); ``where`` what named
    it (``filters``, ``order``, ``keys``); ``path`` the project. The result
    the warning is about is returned unchanged."""

    def __init__(
        self,
        message: str,
        *,
        kind: Kind,
        key: str,
        closest: tuple[str, ...],
        where: str,
        path: str,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.key = key
        self.closest = closest
        self.where = where
        self.path = path


@dataclass(frozen=True)
class ProjectKeys:
    config: frozenset[str]
    summary: frozenset[str]
    history: frozenset[str]

    def of(self, kind: Kind) -> frozenset[str]:
        if kind == "state":
            return frozenset(RUN_STATES)
        return {"config": self.config, "summary": self.summary}.get(kind, self.history)


def project_keys_flow(entity: str, project: str) -> Flow[ProjectKeys | None]:
    """The project's keys (one request), or None when the server cannot say
    (W&B itself has no ``runKeys``): a hint must never fail a call."""
    try:
        result: runs_gql.ProjectRunKeys = yield call(
            "project_run_keys", entity, project
        )
    except RunsClientError:
        return None
    keys = result.project.run_keys if result.project else None
    if keys is None:
        return None
    return ProjectKeys(
        frozenset(keys.config), frozenset(keys.summary), frozenset(keys.history)
    )


def fetch_project_keys(
    client: runs_gql.Client, entity: str, project: str
) -> ProjectKeys | None:
    """``project_keys_flow`` sent on a sync client."""
    return run(client, project_keys_flow(entity, project))


def columns_of(result: Any) -> set[str]:
    """The keys a ``histories()`` result holds: a frame's columns, or the
    union of the rows' keys."""
    if isinstance(result, list):
        return set().union(*result) if result else set()
    names: Any = getattr(result, "column_names", None) or result.columns
    return {str(name) for name in names}


def history_hint_flow(
    entity: str, project: str, keys: list[str], got: set[str]
) -> Flow[None]:
    """``KeyWarning`` for each asked key no run of the project logged, asked
    (one request) only when some key is in no row of the result."""
    if all(key in got for key in keys):
        return
    found = yield from project_keys_flow(entity, project)
    if found is not None:
        wanted: list[tuple[Kind, str]] = [("history", k) for k in keys if k not in got]
        warn_missing(wanted, found, f"{entity}/{project}", "keys")


def hinted_batches(runs: Any, batches: Iterator[Any], keys: list[str]) -> Iterator[Any]:
    """``iter_histories``' batches as they come; once the last is out,
    ``history_hint_flow`` over the keys every batch held (one request, only
    when an asked key was in none)."""
    got: set[str] = set()
    for batch in batches:
        got |= columns_of(batch.data)
        yield batch
    run(runs.client, history_hint_flow(runs.entity, runs.project, keys, got))


async def ahinted_batches(
    runs: Any, batches: AsyncIterator[Any], keys: list[str]
) -> AsyncIterator[Any]:
    """``hinted_batches`` for ``AsyncRuns.iter_histories``."""
    got: set[str] = set()
    async for batch in batches:
        got |= columns_of(batch.data)
        yield batch
    hint = history_hint_flow(runs.entity, runs.project, keys, got)
    await arun(runs.client, hint)


def _split(field: str) -> tuple[Kind, str] | None:
    for prefix in _CONFIG:
        if field.startswith(prefix):
            key = field.removeprefix(prefix)
            head, _, rest = key.partition(".")
            if rest == "value":  # config.KEY.value means config.KEY
                key = head
            return "config", key
    for prefix in _SUMMARY:
        if field.startswith(prefix):
            return "summary", field.removeprefix(prefix)
    return None


def _states(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for op in ("$eq", "$in"):
            operand = value.get(op)
            if isinstance(operand, str):
                yield operand
            elif isinstance(operand, list):
                yield from (v for v in operand if isinstance(v, str))


def filter_fields(filters: Mapping[str, Any] | None) -> Iterator[tuple[Kind, str]]:
    """The config and summary keys a filter names, and the states it asks
    for by equality (``{"state": "finished"}``, ``$eq``, ``$in``)."""
    for field, value in (filters or {}).items():
        if field in _BOOLEAN and isinstance(value, list):
            for part in value:
                if isinstance(part, dict):
                    yield from filter_fields(part)
        elif field == "state":
            yield from (("state", s) for s in _states(value))
        elif (split := _split(field)) is not None:
            yield split


def order_field(order: str | None) -> tuple[Kind, str] | None:
    """The config or summary key an order names, if it names one."""
    text = (order or "").strip().lstrip("+-")
    return _split(text) if text else None


def has_path(values: Mapping[str, Any], dotted: str) -> bool:
    """Whether nested ``values`` hold ``a.b`` (or a flat key ``a.b``)."""
    if dotted in values:
        return True
    head, dot, rest = dotted.partition(".")
    child = values.get(head)
    return bool(dot) and isinstance(child, Mapping) and has_path(child, rest)


def _shown(kind: Kind, key: str, summary_prefix: str = "summary_metrics.") -> str:
    return {"config": "config.", "summary": summary_prefix}.get(kind, "") + key


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside runs_client, so that
    the warning points at the user's line, not at ours."""
    frame = sys._getframe(2)  # the caller of warn_missing
    level = 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        "runs_client"
    ):
        frame = frame.f_back
        level += 1
    return level


def warn_missing(
    wanted: Iterable[tuple[Kind, str]],
    keys: ProjectKeys,
    path: str,
    where: str,
    *,
    summary_prefix: str = "summary_metrics.",
) -> list[KeyWarning]:
    """Warn once for each of ``wanted`` that ``keys`` lack; returns the warnings.
    Summary keys are shown with ``summary_prefix`` (``summary.`` for the
    columns of a runs table)."""
    issued: list[KeyWarning] = []
    for kind, key in dict.fromkeys(wanted):
        known = keys.of(kind)
        if key in known:
            continue
        # Bare key -> the form to show (a run field shows bare, for config).
        shown = {k: _shown(kind, k, summary_prefix) for k in sorted(known)}
        if kind == "config":
            shown.update({f: f for f in RUN_FIELDS if f not in shown})
        matches = difflib.get_close_matches(key, list(shown), n=3)
        closest = tuple(shown[m] for m in matches)
        what = "state" if kind == "state" else f"{kind} key"
        named = f"{what} {_shown(kind, key, summary_prefix)!r}"
        hint = (
            "closest: " + ", ".join(closest)
            if closest
            else "states: " + ", ".join(RUN_STATES)
            if kind == "state"
            else f"none close among its {len(known)} {kind} keys"
        )
        message = (
            f"{where} names {named}, which no run of {path} has ({hint}); "
            "the result is as the server gave it."
        )
        warning = KeyWarning(
            message, kind=kind, key=key, closest=closest, where=where, path=path
        )
        warnings.warn(warning, stacklevel=_user_stacklevel())
        issued.append(warning)
    return issued
