"""An in-memory W&B GraphQL fake for the Runs/Run/Sweep unit tests.

Mounted with respx; routes by ``operationName`` in the JSON body and counts
requests per operation so tests can assert exact request counts.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
import runs_gql

URL = "https://api.test/graphql"
ENTITY = "ada"
PROJECT = "mnist"


def make_run(
    run_id: str,
    *,
    sweep: str | None = None,
    last_step: int | None = 9,
    state: str = "finished",
    **extra: Any,
) -> dict[str, Any]:
    """A RunFields node as the server sends it."""
    node: dict[str, Any] = {
        "id": f"storage-{run_id}",
        "name": run_id,
        "displayName": f"name-{run_id}",
        "state": state,
        "config": json.dumps(
            {
                "lr": {"value": 0.01, "desc": None},
                "layers": {"value": [64, 32]},
                "plain": 3,
                "_wandb": {"value": {"cli_version": "0.18.0"}},
            }
        ),
        "summaryMetrics": '{"loss": 0.1, "best": NaN}',
        "systemMetrics": json.dumps({"system.cpu": 12.5}),
        "historyKeys": None
        if last_step is None
        else {"lastStep": last_step, "keys": {"loss": {}}},
        "historyLineCount": 10,
        "tags": ["baseline"],
        "group": "g1",
        "jobType": "train",
        "commit": "deadbeef",
        "host": "gpu-1",
        "notes": "a note",
        "description": None,
        "sweepName": sweep,
        "readOnly": False,
        "projectId": 7,
        "createdAt": "2024-05-01T12:00:00",
        "heartbeatAt": "2024-05-01T13:00:00",
        "updatedAt": None,
        "user": {"name": "Ada", "username": "ada"},
    }
    node.update(extra)
    return node


BULK_OPERATIONS = ("RunsHistoryPage", "RunsSampledHistoryPage", "RunsEventsPage")
# What a lean listing leaves for later.
_HEAVY_FIELDS = ("config", "summaryMetrics", "systemMetrics")


class _Refusal(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


class _Failure(Exception):
    pass


def _strict(value: Any) -> Any:
    """A strict-JSON server's form of a non-finite number: a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
    return value


@dataclass
class FakeWandb:
    """One project's runs, their history, events and sweeps."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    # run id -> history lines (JSON strings, may hold bare NaN/Infinity)
    history: dict[str, list[str]] = field(default_factory=dict)
    events: dict[str, list[str]] = field(default_factory=dict)
    sweeps: dict[str, dict[str, Any]] = field(default_factory=dict)
    project_exists: bool = True
    run_count: int | None = None  # overrides len(runs) when set
    stuck_cursor: bool = False  # the pager returns the same cursor forever
    # The pager answers every page with the first one, under a fresh cursor
    # each time (a cursor check alone cannot tell it loops).
    repeat_first_page: bool = False
    # Bound of the mock: a request past it fails the test at once, so that a
    # broken guard in the client fails fast instead of paging for ever.
    max_calls: int = 2_000
    calls: Counter[str] = field(default_factory=Counter)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    # Bulk history knobs: refuse history on the runs connection; refuse pages
    # of more than N runs for size (with or without a machine-readable code);
    # write non-finite sampledHistory values as "NaN" strings (strict JSON);
    # answer these bulk requests (1-based counts) with HTTP 500.
    bulk_refused: bool = False
    max_page_runs: int | None = None
    size_code: str | None = "RESPONSE_TOO_LARGE"
    strict_json: bool = False
    failing_bulk: set[int] = field(default_factory=set)
    # Bulk requests for more than N runs time out (the client sees a timeout).
    timeout_page_runs: int | None = None
    # Listing knobs: the page cap ServerPageCap answers (None: refused, as
    # W&B does); RunsPage, RunsPageSelected and RunsHeavyFields asking for
    # more than N runs are refused as too large.
    page_cap: int | None = None
    max_listing_runs: int | None = None

    # -- plumbing ---------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        op = body.get("operationName")
        self.calls[op] += 1
        if self.total > self.max_calls:
            raise AssertionError(f"the fake server got over {self.max_calls} requests")
        variables = body.get("variables", {})
        if (
            self.timeout_page_runs is not None
            and op in BULK_OPERATIONS
            and len(self._selected(variables)[0]) > self.timeout_page_runs
        ):
            raise httpx.ReadTimeout("timed out (fake)", request=request)
        try:
            data = getattr(self, f"_op_{op}")(variables)
        except _Refusal as refusal:
            return httpx.Response(200, json={"data": None, "errors": [refusal.error]})
        except _Failure:
            return httpx.Response(500, text="boom")
        # json.dumps writes NaN/Infinity as bare tokens, as W&B does.
        return httpx.Response(200, content=json.dumps({"data": data}).encode())

    def _start(self, v: dict[str, Any]) -> int:
        if self.repeat_first_page or not v.get("cursor"):
            return 0
        return int(v["cursor"][1:])

    def _cursor(self, end: int) -> str:
        # A fresh cursor per answer, whatever it points at.
        return f"c{end}" if not self.repeat_first_page else f"r{self.total}"

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def _project(self, inner: dict[str, Any]) -> dict[str, Any]:
        return {"project": inner if self.project_exists else None}

    def _run(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.runs if r["name"] == name), None)

    def _run_op(self, v: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        run = self._run(v["name"])
        return self._project({"run": None if run is None else fields})

    def _rows(self, run_id: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.history.get(run_id, [])]

    def _selected(self, v: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        """The runs a bulk page covers: by ``$in`` names, or after the cursor."""
        filters = json.loads(v["filters"]) if v.get("filters") else {}
        parts = filters.get("$and", [filters])
        names = next(
            (p["name"]["$in"] for p in parts if isinstance(p.get("name"), dict)),
            None,
        )
        start = self._start(v)
        pool = (
            self.runs if names is None else [r for r in self.runs if r["name"] in names]
        )
        return pool[start : start + v.get("perPage", 50)], start

    def _bulk(self, v: dict[str, Any], field_name: str, value: Any) -> dict[str, Any]:
        bulk_calls = sum(self.calls[o] for o in BULK_OPERATIONS)
        if bulk_calls in self.failing_bulk:
            raise _Failure
        chunk, start = self._selected(v)
        if self.bulk_refused and chunk:
            raise _Refusal({
                "message": f"Cannot query field {field_name} on a runs connection",
                "path": ["project", "runs", "edges", 0, "node", field_name],
            })  # fmt: skip
        if self.max_page_runs is not None and len(chunk) > self.max_page_runs:
            error: dict[str, Any] = {
                "message": "this request would return more than 10 history rows "
                "in one response; lower per_page (the runs page size) or samples",
                "path": ["project", "runs", "edges", 0, "node", field_name],
            }
            if self.size_code:
                error["extensions"] = {"code": self.size_code}
            raise _Refusal(error)
        end = start + len(chunk)
        pool_size = len(self._selected({**v, "cursor": None, "perPage": 10**9})[0])
        return self._project({
            "runs": {
                "edges": [
                    {"node": {"name": r["name"], field_name: value(r["name"])}}
                    for r in chunk
                ],
                "pageInfo": {
                    "endCursor": self._cursor(end),
                    "hasNextPage": end < pool_size,
                },
            }
        })  # fmt: skip

    def _sampled(self, run_id: str, specs: list[str]) -> list[list[dict[str, Any]]]:
        out = []
        for spec_text in specs:
            spec = json.loads(spec_text)
            keys = spec["keys"]
            rows = [
                {k: _strict(r[k]) if self.strict_json else r[k] for k in keys}
                for r in self._rows(run_id)
                if all(k in r for k in keys)
            ]
            out.append(rows[: spec.get("samples", 500)])
        return out

    # -- operations -------------------------------------------------------

    def _op_ServerFeatures(self, v: dict[str, Any]) -> dict[str, Any]:
        # As W&B: features, none of them columnar history (the JSON path).
        return {"serverInfo": {"features": [{"name": "X", "isEnabled": True}]}}

    def _op_RunsHistoryPage(self, v: dict[str, Any]) -> dict[str, Any]:
        samples = v.get("samples", 500)
        return self._bulk(v, "history", lambda n: self.history.get(n, [])[:samples])

    def _op_RunsEventsPage(self, v: dict[str, Any]) -> dict[str, Any]:
        samples = v.get("samples", 500)
        return self._bulk(v, "events", lambda n: self.events.get(n, [])[:samples])

    def _op_RunsSampledHistoryPage(self, v: dict[str, Any]) -> dict[str, Any]:
        return self._bulk(v, "sampledHistory", lambda n: self._sampled(n, v["specs"]))

    def _op_RunsPage(self, v: dict[str, Any]) -> dict[str, Any]:
        self._too_large(v.get("perPage", 50))
        start = self._start(v)
        per_page = v.get("perPage", 50)
        chunk = self.runs[start : start + per_page]
        end = start + len(chunk)
        has_next = end < len(self.runs)
        cursor = "c0" if self.stuck_cursor else self._cursor(end)
        return self._project(
            {
                "runCount": len(self.runs)
                if self.run_count is None
                else self.run_count,
                "readOnly": False,
                "runs": {
                    "edges": [
                        {"node": n, "cursor": f"c{start + i + 1}"}
                        for i, n in enumerate(chunk)
                    ],
                    "pageInfo": {"endCursor": cursor, "hasNextPage": has_next},
                },
            }
        )

    def _op_ServerPageCap(self, v: dict[str, Any]) -> dict[str, Any]:
        if self.page_cap is None:
            raise _Refusal({
                "message": "Cannot query field 'maxPageSize' on type 'ServerInfo'."
            })  # fmt: skip
        return {"serverInfo": {"maxPageSize": self.page_cap}}

    def _too_large(self, runs: int) -> None:
        if self.max_listing_runs is not None and runs > self.max_listing_runs:
            raise _Refusal({
                "message": "this response would be larger than 100 bytes",
                "extensions": {"code": "RESPONSE_TOO_LARGE"},
            })  # fmt: skip

    def _op_RunsPageSelected(self, v: dict[str, Any]) -> dict[str, Any]:
        """RunsPage of lean nodes: config and summary cut to the top-level
        keys asked; without withRunFields, only the ids."""
        self._too_large(v.get("perPage", 50))
        data = self._op_RunsPage(v)
        project = data["project"]
        if project is None:
            return data
        for edge in project["runs"]["edges"]:
            run = edge.pop("node")
            node = {k: run[k] for k in ("id", "name")}
            if v.get("withRunFields", True):
                node.update(
                    {k: val for k, val in run.items() if k not in _HEAVY_FIELDS}
                )
            for field_name, keys in (
                ("config", v["configKeys"]),
                ("summaryMetrics", v["summaryKeys"]),
            ):
                whole = json.loads(run[field_name] or "{}")
                node[field_name] = json.dumps({k: whole[k] for k in keys if k in whole})
            edge["node"] = node
            edge.pop("cursor")
        return data

    def _op_RunsHeavyFields(self, v: dict[str, Any]) -> dict[str, Any]:
        names = json.loads(v["filters"])["name"]["$in"]
        self._too_large(len(names))
        chosen = [r for r in self.runs if r["name"] in names][: v["perPage"]]
        edges = [
            {"node": {"name": r["name"], **{k: r[k] for k in _HEAVY_FIELDS}}}
            for r in chosen
        ]
        return self._project({"runs": {"edges": edges}})

    def _op_RunCount(self, v: dict[str, Any]) -> dict[str, Any]:
        count = len(self.runs) if self.run_count is None else self.run_count
        return self._project({"runCount": count})

    def _op_RunByName(self, v: dict[str, Any]) -> dict[str, Any]:
        return self._project({"run": self._run(v["name"])})

    def _op_SweepByName(self, v: dict[str, Any]) -> dict[str, Any]:
        return self._project({"sweep": self.sweeps.get(v["name"])})

    def _op_RunHistory(self, v: dict[str, Any]) -> dict[str, Any]:
        lines = self.history.get(v["name"], [])[: v.get("samples", 500)]
        return self._run_op(v, {"history": lines})

    def _op_RunEvents(self, v: dict[str, Any]) -> dict[str, Any]:
        lines = self.events.get(v["name"], [])[: v.get("samples", 500)]
        return self._run_op(v, {"events": lines})

    def _op_RunSampledHistory(self, v: dict[str, Any]) -> dict[str, Any]:
        out = self._sampled(v["name"], v["specs"])
        return self._run_op(v, {"sampledHistory": out})

    def _op_RunHistoryKeys(self, v: dict[str, Any]) -> dict[str, Any]:
        run = self._run(v["name"])
        return self._run_op(v, {"historyKeys": run["historyKeys"] if run else None})

    def _op_RunHistoryWindow(self, v: dict[str, Any]) -> dict[str, Any]:
        lo, hi = v.get("minStep", 0), v.get("maxStep", 2**62)
        lines = [
            line
            for line in self.history.get(v["name"], [])
            if lo <= json.loads(line)["_step"] < hi
        ][: v.get("samples", 500)]
        return self._run_op(v, {"history": lines})


def make_sweep(name: str) -> dict[str, Any]:
    return {
        "id": f"sweep-{name}",
        "name": name,
        "displayName": f"Sweep {name}",
        "method": "bayes",
        "state": "FINISHED",
        "description": None,
        "config": json.dumps({"method": "bayes", "metric": {"name": "loss"}}),
        "bestLoss": 0.05,
        "runCount": 5,
        "runCountExpected": 10,
        "createdAt": "2024-05-01T10:00:00",
        "updatedAt": None,
    }


# Named fixtures so test modules can import them without shadowing warnings.
@pytest.fixture(name="client")
def client_fixture() -> Iterator[runs_gql.Client]:
    with httpx.Client() as http:
        yield runs_gql.Client(url=URL, http_client=http)


@pytest.fixture(name="fake")
def fake_fixture() -> Iterator[FakeWandb]:
    server = FakeWandb()
    with respx.mock(assert_all_called=False) as router:
        router.post(URL).mock(side_effect=server.handler)
        yield server
