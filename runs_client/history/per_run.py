"""The per-run fallback's reads: one run's history in requests of its own,
for servers that refuse history fields on the runs connection."""

from __future__ import annotations

from typing import Any

import runs_gql

from ..transport.flows import Flow, call
from .pages import HistoryQuery, merge_on
from .policy import MAX_SPECS
from .run_rows import parse_lines, sampled_lists_flow, sampled_rows

__all__ = ["one_run"]


def one_run(
    query: HistoryQuery, entity: str, project: str, name: str
) -> Flow[list[dict[str, Any]]]:
    """One run's rows for ``query``, in requests of their own (a flow)."""
    if query.stream == "system":
        events: runs_gql.RunEvents = yield call(
            "run_events", entity, project, name, samples=query.samples
        )
        run = events.project.run if events.project else None
        return parse_lines(run.events if run else None, "RunEvents")
    if query.keys is None:
        full: runs_gql.RunHistory = yield call(
            "run_history", entity, project, name, samples=query.samples
        )
        run_h = full.project.run if full.project else None
        return parse_lines(run_h.history if run_h else None, "RunHistory")
    lists = yield from sampled_lists_flow(entity, project, name, query.specs, MAX_SPECS)
    if query.join == "and":
        return sampled_rows(lists[0] if lists else None)
    return merge_on(query.x_axis, [sampled_rows(rows) for rows in lists])
