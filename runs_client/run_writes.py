"""Run writes: what ``Run.update``, ``Run.delete``, ``Run.stop`` and
``Api.create_run`` send (the ``UpsertBucket``, ``DeleteRun`` and ``StopRun``
operations of ``queries/writes.graphql``).

Arguments are checked before anything is sent; a mistake raises
``InvalidArgumentError`` naming the argument. Writes are idempotent (an
upsert sets the values given, by storage id or by run id), so the retrying
client may send them again after a lost reply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import runs_gql
from runs_gql import RunFields

from ._exceptions import InvalidArgumentError, NotFoundError

__all__ = ["RUN_STATES", "create_run", "delete_run", "stop_run", "update_run"]

# The states a run may be created in (W&B's public API: running or pending).
RUN_STATES = ("running", "pending")


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
    client: runs_gql.Client,
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
) -> RunFields:
    """Set the given fields of run ``storage_id``; the run as stored after."""
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
    return _bucket(client.upsert_bucket(id=storage_id, **variables), "update")


def create_run(
    client: runs_gql.Client,
    entity: str,
    project: str,
    run_id: str,
    *,
    state: str,
    config: object = None,
    tags: object = None,
    notes: object = None,
    name: object = None,
    group: object = None,
    job_type: object = None,
) -> tuple[RunFields, bool]:
    """Create run ``entity/project/run_id`` (the project too, if new); the run
    as stored, and whether it was created (False: it existed and was updated)."""
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
    result = client.upsert_bucket(
        name=run_id, project=project, entity=entity, state=state, **variables
    )
    fields = _bucket(result, "create_run")
    inserted = bool(result.upsert_bucket and result.upsert_bucket.inserted)
    return fields, inserted


def delete_run(client: runs_gql.Client, storage_id: str) -> None:
    client.delete_run(id=storage_id)


def stop_run(client: runs_gql.Client, storage_id: str) -> None:
    client.stop_run(id=storage_id)
