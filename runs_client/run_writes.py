"""Run writes: what ``Run.update``, ``Run.delete``, ``Run.stop`` and
``Api.create_run`` send (the ``UpsertBucket``, ``DeleteRun`` and ``StopRun``
operations of ``queries/writes.graphql``).

Arguments are checked before anything is sent; a mistake raises
``InvalidArgumentError`` naming the argument. Writes are idempotent (an
upsert sets the values given, by storage id or by run id), so the retrying
client may send them again after a lost reply.

Each write is a flow (``transport.flows``): ``Run`` and ``Api`` run it on
the sync client, ``AsyncRun`` and ``AsyncApi`` await it; the checks, the
variables and the reading of the answer are these, for both.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import runs_gql
from runs_gql import RunFields

from ._exceptions import InvalidArgumentError, NotFoundError
from .transport.flows import Flow, call

__all__ = [
    "DEFAULT_PROJECT",
    "RUN_STATES",
    "NewRun",
    "create_run",
    "delete_run",
    "new_run",
    "stop_run",
    "update_run",
]

# The states a run may be created in (W&B's public API: running or pending).
RUN_STATES = ("running", "pending")
# Where W&B puts a run whose project is not named.
DEFAULT_PROJECT = "uncategorized"


def _mapping(name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidArgumentError(
            f"{name}={value!r:.80} is not accepted; pass a dict with str keys."
        )
    return dict(value)


def _json(name: str, value: Mapping[str, Any]) -> str:
    """JSON text of ``value``; NaN and infinities as W&B's bare tokens."""
    try:
        return json.dumps(value, allow_nan=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{name} holds a value JSON cannot encode ({exc}); pass numbers, "
            "strings, booleans, None, lists and dicts."
        ) from None


def _text(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidArgumentError(f"{name}={value!r:.80} is not accepted; pass a str.")
    return value


def _tags(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidArgumentError(
            f"tags={value!r:.80} is not accepted; pass a list of str (not one str)."
        )
    if not all(isinstance(tag, str) for tag in value):
        raise InvalidArgumentError(f"tags={value!r:.80}: every tag must be a str.")
    return list(value)


def wrapped_config(raw: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """The stored config ``raw`` (values wrapped, ``_wandb`` kept) with the
    keys of ``config`` set, as the JSON text the server stores."""
    merged = dict(raw)
    for key, value in config.items():
        merged[key] = {"value": value, "desc": None}
    return _json("config", merged)


def _bucket(result: runs_gql.UpsertBucket, what: str) -> RunFields:
    payload = result.upsert_bucket
    if payload is None or payload.bucket is None:
        raise NotFoundError(f"{what}: the server returned no run.")
    return payload.bucket


def update_run(
    storage_id: str,
    raw_config: Mapping[str, Any],
    summary_now: Mapping[str, Any],
    *,
    config: object = None,
    summary: object = None,
    tags: object = None,
    notes: object = None,
    name: object = None,
    group: object = None,
) -> Flow[RunFields]:
    """Set the given fields of run ``storage_id``; the run as stored after.
    The arguments are checked here, before the flow is run."""
    variables: dict[str, Any] = {}
    if config is not None:
        variables["config"] = wrapped_config(raw_config, _mapping("config", config))
    if summary is not None:
        merged = {**summary_now, **_mapping("summary", summary)}
        variables["summary_metrics"] = _json("summary", merged)
    if tags is not None:
        variables["tags"] = _tags(tags)
    for arg, value, variable in (
        ("notes", notes, "notes"),
        ("name", name, "display_name"),
        ("group", group, "group_name"),
    ):
        if value is not None:
            variables[variable] = _text(arg, value)
    return _upsert("update", id=storage_id, **variables)


def _upsert(what: str, **variables: Any) -> Flow[RunFields]:
    result: runs_gql.UpsertBucket = yield call("upsert_bucket", **variables)
    return _bucket(result, what)


@dataclass(frozen=True)
class NewRun:
    """``create_run``'s arguments, checked; the entity is given apart (it
    may need a request to know)."""

    run_id: str
    project: str
    state: str
    variables: dict[str, Any]


def new_run(
    *,
    run_id: object,
    project: object,
    state: object,
    config: object = None,
    tags: object = None,
    notes: object = None,
    name: object = None,
    group: object = None,
    job_type: object = None,
) -> NewRun:
    """The run ``Api.create_run`` makes: ``project`` (``"uncategorized"`` if
    None), ``run_id`` (8 random characters if None); every argument checked
    (``InvalidArgumentError`` naming the first wrong one)."""
    for arg, value in (("run_id", run_id), ("project", project)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidArgumentError(
                f"{arg}={value!r} is not accepted; pass a non-empty str or None."
            )
    if state not in RUN_STATES:
        raise InvalidArgumentError(
            f"state={state!r} is not accepted; pass one of {', '.join(RUN_STATES)}."
        )
    variables: dict[str, Any] = {"tags": _tags(tags)}
    if config is not None:
        variables["config"] = wrapped_config({}, _mapping("config", config))
    for arg, value, variable in (
        ("notes", notes, "notes"),
        ("name", name, "display_name"),
        ("group", group, "group_name"),
        ("job_type", job_type, "job_type"),
    ):
        variables[variable] = _text(arg, value)
    return NewRun(
        str(run_id or secrets.token_hex(4)),
        str(project or DEFAULT_PROJECT),
        str(state),
        variables,
    )


def create_run(entity: str, new: NewRun) -> Flow[RunFields]:
    """Create run ``entity/project/run_id`` (the project too, if new); the run
    as stored (one that existed is updated with the fields given)."""
    return _upsert(
        "create_run",
        name=new.run_id,
        project=new.project,
        entity=entity,
        state=new.state,
        **new.variables,
    )


def delete_run(storage_id: str) -> Flow[None]:
    yield call("delete_run", id=storage_id)


def stop_run(storage_id: str) -> Flow[None]:
    yield call("stop_run", id=storage_id)
