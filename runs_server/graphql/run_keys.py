"""``Project.runKeys``: the config, summary and history keys a project's runs
have, so a client can name the closest key when a filter, an order or a
history key matched nothing (a typo must not pass for an empty result).

Keys are dotted paths as filters name them, without their prefix: config
values unwrapped (``{"model": {"value": {"layers": 3}}}`` gives
``model.layers``), nested summary dicts flattened (``val.acc``), media and
other ``_type`` dicts whole. Each list is sorted and holds at most
``MAX_RUN_KEYS``; the work is one pass over the project's runs, asked only
when a hint is needed.
"""

from __future__ import annotations

from typing import Any

from ariadne import ObjectType
from graphql import GraphQLResolveInfo

from runs_server.graphql.context import request_context
from runs_server.store import Project, jsonrows

__all__ = ["MAX_RUN_KEYS", "project_keys_type", "run_keys"]

MAX_RUN_KEYS = 10_000  # per list: a hint, not an inventory

project_keys_type = ObjectType("Project")


def _paths(prefix: str, value: Any, into: set[str]) -> None:
    """``prefix`` and, for a plain nested dict, the dotted paths inside it."""
    if prefix:
        into.add(prefix)
    if isinstance(value, dict) and "_type" not in value:
        for key, child in value.items():
            if key != "_wandb":
                _paths(f"{prefix}.{key}" if prefix else str(key), child, into)


def _unwrapped(config: dict[str, Any]) -> dict[str, Any]:
    return {
        key: item.get("value") if isinstance(item, dict) and "value" in item else item
        for key, item in config.items()
    }


def run_keys(rows: Any) -> dict[str, list[str]]:
    """The keys of ``(config, summary_metrics, history_keys)`` texts, sorted."""
    config: set[str] = set()
    summary: set[str] = set()
    history: set[str] = set()
    for config_text, summary_text, history_text in rows:
        for target, text, unwrap in (
            (config, config_text, True),
            (summary, summary_text, False),
        ):
            value = jsonrows.loads(text)
            if isinstance(value, dict):
                _paths("", _unwrapped(value) if unwrap else value, target)
        logged = jsonrows.loads(history_text)
        if isinstance(logged, dict):
            history.update(map(str, logged))
    return {
        "config": sorted(config)[:MAX_RUN_KEYS],
        "summary": sorted(summary)[:MAX_RUN_KEYS],
        "history": sorted(history)[:MAX_RUN_KEYS],
    }


@project_keys_type.field("runKeys")
def resolve_run_keys(
    project: Project, info: GraphQLResolveInfo
) -> dict[str, list[str]]:
    cursor = request_context(info).conn.execute(
        "SELECT config, summary_metrics, history_keys FROM runs WHERE project_id=?",
        (project.id,),
    )
    return run_keys(cursor)
