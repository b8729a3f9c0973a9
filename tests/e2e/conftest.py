"""End-to-end fixtures: the real ``runs_server`` on 127.0.0.1, read by ``runs_client``.

The session server holds the demo seed (``demo/mnist``, 320 runs, and the
private ``alice/secret``) plus two hand-made projects whose every value is
known here, so tests compute their expected answers in plain Python:

- ``e2e/hand``: ``N_HAND`` runs built from ``hand_spec(i)`` (config, summary,
  tags, states, sweeps, created_at ties, history and system events).
- ``e2e/scan``: runs for ``scan_history`` (a sparse key, large step gaps, no
  history at all).

Servers with other settings (auth required, injected faults) are started by
the tests that need them, with ``start_server``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

import runs_client
from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.demo_seed import seed_demo_copy

from .either_api import make_either

ENTITY = "e2e"
HAND = "e2e/hand"
SCAN = "e2e/scan"
E2E_KEY = "e2e0" * 10
N_HAND = 24
BASE = datetime(2024, 5, 1, 0, 0, 0)

STATES = ("finished", "running", "crashed", "failed", "killed", "finished")
WORDS = ("alpha", "beta", "gamma", "delta")
OPTIMIZERS = ("adam", "sgd", "adamw")
LRS = (0.1, 0.01, 0.001, 0.0001)
SWEEPS = {"sw1": "first-sweep", "sw2": "second-sweep"}

# e2e/scan: "sparse" logs every step 0..SPARSE_LAST, "rare" only at RARE_STEPS.
SPARSE_LAST = 1999
RARE_STEPS = (3, 1500, 1999)
GAPPY_STEPS = (0, 1, 250, 251, 900, 2500)


@dataclass(frozen=True)
class Spec:
    """One run of ``e2e/hand``: what was stored, hence what must come back."""

    index: int
    id: str
    display_name: str
    state: str
    created_at: datetime
    heartbeat_at: datetime
    config: dict[str, Any]
    summary: dict[str, Any]
    tags: list[str]
    group: str | None
    job_type: str
    sweep: str | None
    history: list[dict[str, Any]] = field(repr=False)
    events: list[dict[str, Any]] = field(repr=False)


def hand_history(i: int) -> list[dict[str, Any]]:
    """Run i logs steps 0..4+i: ``loss`` always, ``acc`` on even steps of even
    runs, ``text`` (a string) in runs 0, 3, 6..., an image dict at run 3's end;
    run 0 has NaN at step 1 and Infinity at step 2."""
    rows: list[dict[str, Any]] = []
    last = 4 + i
    for s in range(last + 1):
        row: dict[str, Any] = {
            "_step": s,
            "_runtime": float(s),
            "_timestamp": 1714521600.0 + i * 3600 + s,
            "loss": i + s / 8,
        }
        if i == 0 and s == 1:
            row["loss"] = math.nan
        if i == 0 and s == 2:
            row["loss"] = math.inf
        if i % 2 == 0 and s % 2 == 0:
            row["acc"] = s / 16
        if i % 3 == 0:
            row["text"] = f"t{s}"
        if i == 3 and s == last:
            row["img"] = {"_type": "image-file", "path": "media/img_3.png", "width": 8}
        rows.append(row)
    return rows


def hand_events(i: int) -> list[dict[str, Any]]:
    """System metrics for even runs: three rows, logged out of time order."""
    if i % 2:
        return []
    t0 = 1714521600.0 + i * 3600
    return [
        {"_timestamp": t0 + dt, "_runtime": dt, "system.cpu": float(i + dt)}
        for dt in (20.0, 0.0, 10.0)
    ]


def hand_spec(i: int) -> Spec:
    created = BASE + timedelta(hours=i // 2)  # pairs share created_at: ties
    config: dict[str, Any] = {
        "lr": LRS[i % 4],
        "batch": (16, 32, 64)[i % 3],
        "seed": i,
        "opt": {"name": OPTIMIZERS[i % 3], "beta": 0.9 if i % 2 else 0.99},
        "_wandb": {"cli_version": "0.18.0"},
    }
    if i % 4 != 3:
        config["x"] = i % 5  # ties, and missing in every fourth run
    weird = (math.nan, math.inf, -math.inf)[i] if i < 3 else float(i)
    summary: dict[str, Any] = {
        "loss": 1 / (i + 1),
        "acc": i / 32,
        "nested": {"f1": i / 100},
        "weird": weird,
    }
    if i % 5 != 4:
        summary["y"] = (i * 7) % 10  # ties, and missing in every fifth run
    return Spec(
        index=i,
        id=f"h{(i * 5) % N_HAND:02d}",  # name order differs from created order
        display_name=f"{WORDS[i % 4]}-{i // 4}",
        state=STATES[i % 6],
        created_at=created,
        heartbeat_at=created + timedelta(minutes=30),
        config=config,
        summary=summary,
        tags=[t for bit, t in enumerate("abc") if i & (1 << bit)],
        group=("g1", "g2", None)[i % 3],
        job_type=("train", "eval")[i % 2],
        sweep=("sw1", "sw2", None, None)[i % 4],
        history=hand_history(i),
        events=hand_events(i),
    )


SPECS: list[Spec] = [hand_spec(i) for i in range(N_HAND)]
BY_ID: dict[str, Spec] = {s.id: s for s in SPECS}


def seed_e2e(store: Store) -> None:
    """Add the ``e2e`` user and the ``e2e/hand`` and ``e2e/scan`` projects."""
    store.users.create("e2e", api_key=E2E_KEY, name="End To End")
    store.projects.create(ENTITY, "hand", created_at=BASE)
    for name, display in SWEEPS.items():
        store.projects.create_sweep(
            HAND,
            name,
            display_name=display,
            method="grid",
            config={"method": "grid", "parameters": {"lr": {"values": list(LRS)}}},
            best_loss=0.5,
            created_at=BASE,
        )
    for spec in SPECS:
        run = store.runs.add(
            HAND,
            spec.id,
            display_name=spec.display_name,
            state=spec.state,
            config=spec.config,
            summary=spec.summary,
            tags=spec.tags,
            group=spec.group,
            job_type=spec.job_type,
            sweep=spec.sweep,
            user="e2e",
            created_at=spec.created_at,
            heartbeat_at=spec.heartbeat_at,
        )
        store.history.log(run, spec.history, update_summary=False)
        if spec.events:
            store.history.log_events(run, spec.events)

    store.projects.create(ENTITY, "scan", created_at=BASE)
    sparse = store.runs.add(SCAN, "sparse", created_at=BASE)
    store.history.log(
        sparse,
        [
            {"_step": s, "loss": s / 4, **({"rare": s * 10} if s in RARE_STEPS else {})}
            for s in range(SPARSE_LAST + 1)
        ],
        update_summary=False,
    )
    gappy = store.runs.add(SCAN, "gappy", created_at=BASE + timedelta(seconds=1))
    # Step 900 is stored as text with "_step": 900.0, as W&B sometimes sends it.
    store.history.log(
        gappy,
        [
            {"_step": s, "v": s} if s != 900 else '{"_step": 900.0, "v": 900}'
            for s in GAPPY_STEPS
        ],
        update_summary=False,
    )
    store.runs.add(SCAN, "blank", created_at=BASE + timedelta(seconds=2))


@dataclass
class Server:
    """A running server over a store; ``url`` is the base URL for ``Api``."""

    server: BackgroundServer
    store: Store

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.store.close()


def start_server(config: ServerConfig | None = None, *, demo: bool = True) -> Server:
    """A new in-memory store (demo and e2e seeds) served on a free 127.0.0.1 port."""
    store = Store()
    if demo:
        seed_demo_copy(store)
    seed_e2e(store)
    server = BackgroundServer(RunsServerApp(store, config)).start()
    return Server(server, store)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """The open (no auth required) session server."""
    live = start_server()
    yield live
    live.stop()


@dataclass
class Requests:
    """Operation names (and variables) of the requests an ``Api`` sent, in order."""

    operations: list[str] = field(default_factory=list)
    variables: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> None:
        body = json.loads(request.content)
        self.operations.append(str(body.get("operationName")))
        self.variables.append(dict(body.get("variables") or {}))

    def count(self, operation: str) -> int:
        return self.operations.count(operation)

    def clear(self) -> None:
        self.operations.clear()
        self.variables.clear()


def record_requests(api: Any) -> Requests:
    """Record every request ``api`` sends (an httpx request event hook);
    ``api`` is an ``Api`` or the view of an ``AsyncApi`` (async hooks)."""
    requests = Requests()
    http = api.client.http_client
    hook: Any = requests
    if isinstance(http, httpx.AsyncClient):

        async def hook(request: httpx.Request) -> None:
            requests(request)

    hooks = http.event_hooks
    hooks["request"] = [*hooks.get("request", []), hook]
    http.event_hooks = hooks
    return requests


ApiFactory = Callable[..., runs_client.Api]


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Cases marked ``sync_only`` test what only the sync surface has (list()
    asking len() first, next(), the default_entity property): their AsyncApi
    variant is deselected, not skipped."""
    drop = [
        item
        for item in items
        if item.get_closest_marker("sync_only") is not None and "[async" in item.nodeid
    ]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]


@pytest.fixture(params=["sync", "async"])
def client_kind(request: pytest.FixtureRequest) -> str:
    """Which client the test's ``make_api`` gives: every case that builds its
    Api with ``make_api`` runs for ``Api`` and for ``AsyncApi`` (through the
    sync view of ``either_api``)."""
    return str(request.param)


@pytest.fixture
def make_api(server: Server, client_kind: str) -> Iterator[ApiFactory]:
    """``make_api(**kwargs)``: an ``Api`` (or ``AsyncApi`` seen through a
    sync view) for the session server, closed after."""
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("api_key", E2E_KEY)
        kwargs.setdefault("base_url", server.url)
        api = make_either(client_kind, **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: ApiFactory) -> runs_client.Api:
    return make_api()
