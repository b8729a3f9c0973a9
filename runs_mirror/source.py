"""Requests to the source server, through ``runs_client``'s retrying client.

Bodies are read raw (``execute`` + ``get_data``), not through the generated
models: history and event rows stay the exact strings the source sent, and
JSON fields are decoded once, by the writer. The transport retries 429 (with
``Retry-After``), 5xx, dropped connections and cut bodies.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from runs_gql.operations import (
    MIRROR_RUN_STATES_GQL,
    RUN_BY_NAME_GQL,
    RUN_EVENTS_GQL,
    RUN_HISTORY_WINDOW_GQL,
    RUNS_HISTORY_WINDOW_PAGE_GQL,
    RUNS_MIRROR_PAGE_GQL,
    SWEEP_BY_NAME_GQL,
)

import runs_client
from runs_client import GraphQLError, NotFoundError
from runs_client.bulk_policy import is_too_large, refuses_bulk
from runs_client.transport.page_guard import PageGuard
from runs_mirror.plan import MAX_SAMPLES, SourceRun

__all__ = ["Source", "is_too_large"]

# The server's page cap: 1,000 runs per listing request.
LIST_PAGE = 1000

Node = dict[str, Any]


class Source:
    """One project on the source server, and the requests sent to it."""

    def __init__(
        self,
        api: runs_client.Api,
        entity: str,
        project: str,
        filters: dict[str, Any] | None,
        max_in_flight: int,
    ) -> None:
        self.client = api.client
        self.url = api.base_url
        self.entity = entity
        self.project = project
        self.filters = filters
        self.max_in_flight = max_in_flight
        self.requests = 0
        self.bytes = 0
        self.per_run: str | None = None  # why bulk history was refused, if it was
        self._lock = threading.Lock()

    # -- transport -------------------------------------------------------

    def _post(self, text: str, operation: str, variables: dict[str, Any]) -> Node:
        given = {k: v for k, v in variables.items() if v is not None}
        response = self.client.execute(text, operation_name=operation, variables=given)
        with self._lock:
            self.requests += 1
            self.bytes += response.num_bytes_downloaded or len(response.content)
        return self.client.get_data(response)

    def _project(self, data: Node) -> Node:
        project = data.get("project")
        if not isinstance(project, dict):
            raise NotFoundError(
                f"{self.url} has no project {self.entity}/{self.project} (or this "
                "API key cannot read it); check the path and the key."
            )
        return project

    def _in(self, names: Sequence[str]) -> str:
        return orjson.dumps({"name": {"$in": list(names)}}).decode()

    # -- listing -----------------------------------------------------------

    def list_runs(self) -> tuple[Node, list[SourceRun]]:
        """The project's fields and every (filtered) run's change markers."""
        runs: list[SourceRun] = []
        cursor: str | None = None
        filters = orjson.dumps(self.filters).decode() if self.filters else None
        info: Node = {}
        guard = PageGuard(
            f"run pager for {self.entity}/{self.project} at {self.url}", LIST_PAGE
        )
        while True:
            data = self._post(
                MIRROR_RUN_STATES_GQL,
                "MirrorRunStates",
                {
                    "entity": self.entity,
                    "project": self.project,
                    "cursor": cursor,
                    "perPage": LIST_PAGE,
                    "filters": filters,
                },
            )
            project = self._project(data)
            info = {k: v for k, v in project.items() if k != "runs"}
            connection = project.get("runs") or {}
            nodes = [
                node
                for edge in connection.get("edges") or ()
                if isinstance(node := (edge or {}).get("node"), dict)
            ]
            page = connection.get("pageInfo") or {}
            end, has_next = page.get("endCursor"), bool(page.get("hasNextPage"))
            # A run listed twice is copied once (the guard warns); a pager
            # that repeats itself or never ends is refused, not followed.
            fresh = guard.admit(
                [str(node.get("name")) for node in nodes],
                has_next=has_next,
                end_cursor=end,
            )
            runs.extend(
                SourceRun(
                    node["name"],
                    node.get("state"),
                    node.get("createdAt"),
                    node.get("updatedAt"),
                    node.get("heartbeatAt"),
                    int(node.get("historyLineCount") or 0),
                )
                for node, new in zip(nodes, fresh, strict=True)
                if new
            )
            if not has_next:
                return info, runs
            cursor = end

    # -- runs with history ---------------------------------------------------

    def first_page(
        self, names: Sequence[str], min_step: int | None, max_step: int | None
    ) -> list[Node]:
        """Runs ``names`` with every field, events and one history window."""
        if self.per_run is None:
            try:
                data = self._post(
                    RUNS_MIRROR_PAGE_GQL,
                    "RunsMirrorPage",
                    {
                        "entity": self.entity,
                        "project": self.project,
                        "perPage": len(names),
                        "filters": self._in(names),
                        "samples": MAX_SAMPLES,
                        "minStep": min_step,
                        "maxStep": max_step,
                        "eventsSamples": MAX_SAMPLES,
                    },
                )
                return _nodes(self._project(data))
            except GraphQLError as exc:
                if not refuses_bulk(exc):
                    raise
                self.per_run = "; ".join(exc.messages) or str(exc)
        with ThreadPoolExecutor(self.max_in_flight, "runs-mirror") as pool:
            found = pool.map(lambda n: self._one_run(n, min_step, max_step), names)
            return [node for node in found if node is not None]

    def _one_run(
        self, name: str, min_step: int | None, max_step: int | None
    ) -> Node | None:
        fields = self._project(self._run_data(RUN_BY_NAME_GQL, "RunByName", name))
        node = fields.get("run")
        if not isinstance(node, dict):
            return None  # deleted since the listing
        node["history"] = self._run_history(name, min_step, max_step)
        data = self._run_data(RUN_EVENTS_GQL, "RunEvents", name, samples=MAX_SAMPLES)
        node["events"] = (self._project(data).get("run") or {}).get("events") or []
        return node

    def _run_data(self, text: str, operation: str, name: str, **extra: Any) -> Node:
        variables = {"entity": self.entity, "project": self.project, "name": name}
        return self._post(text, operation, {**variables, **extra})

    def _run_history(
        self, name: str, min_step: int | None, max_step: int | None
    ) -> list[str]:
        data = self._run_data(
            RUN_HISTORY_WINDOW_GQL,
            "RunHistoryWindow",
            name,
            samples=MAX_SAMPLES,
            minStep=min_step,
            maxStep=max_step,
        )
        run = self._project(data).get("run") or {}
        return list(run.get("history") or [])

    def window(
        self, names: Sequence[str], min_step: int, max_step: int
    ) -> dict[str, list[str]]:
        """History rows of ``names`` in steps ``[min_step, max_step)``."""
        if self.per_run is not None:
            with ThreadPoolExecutor(self.max_in_flight, "runs-mirror") as pool:
                rows = pool.map(
                    lambda n: self._run_history(n, min_step, max_step), names
                )
                return dict(zip(names, rows, strict=True))
        data = self._post(
            RUNS_HISTORY_WINDOW_PAGE_GQL,
            "RunsHistoryWindowPage",
            {
                "entity": self.entity,
                "project": self.project,
                "perPage": len(names),
                "filters": self._in(names),
                "samples": MAX_SAMPLES,
                "minStep": min_step,
                "maxStep": max_step,
            },
        )
        return {
            node["name"]: list(node.get("history") or [])
            for node in _nodes(self._project(data))
        }

    def sweep(self, name: str) -> Node | None:
        data = self._run_data(SWEEP_BY_NAME_GQL, "SweepByName", name)
        sweep = self._project(data).get("sweep")
        return sweep if isinstance(sweep, dict) else None


def _nodes(project: Node) -> list[Node]:
    connection = project.get("runs") or {}
    return [
        edge["node"]
        for edge in connection.get("edges") or ()
        if isinstance(edge, dict) and isinstance(edge.get("node"), dict)
    ]
