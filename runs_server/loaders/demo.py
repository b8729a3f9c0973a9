"""A deterministic demo project, ``demo/mnist``, for `serve --demo` and tests.

Everything comes from one seeded RNG and a fixed start date, so two seeds
give identical stores. Each run logs at three cadences: ``loss``/``lr``/
``grad_norm``/``phase`` every step, ``val.acc``/``val.loss`` every 10 steps and
``test.acc`` plus an image once at the end, so ``sampledHistory`` with keys
from two cadences shows W&B's AND rule (only rows holding every key).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from runs_server.store import Store
from runs_server.store.runs import RunIndexEntry

DEMO_ENTITY = "demo"
DEMO_PROJECT = "mnist"
DEMO_RUNS = 320
SEED = 20240301
# Aware: .timestamp() of a naive datetime would read it in the local zone.
START = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone.utc)

STATES = (
    ("finished", 0.58),
    ("running", 0.10),
    ("crashed", 0.08),
    ("failed", 0.08),
    ("killed", 0.06),
    ("preempted", 0.05),
    ("pending", 0.05),
)
GROUPS = ("baseline", "augment", "distill", None)
TAGS = ("baseline", "augment", "lr-sweep", "best", "debug", "v2")
SWEEPS = (("swp1abcd", "bayes", 40), ("swp2efgh", "grid", 24))
ADJECTIVES = ("brisk", "calm", "dark", "eager", "fancy", "gentle", "happy", "icy")
NOUNS = ("river", "forest", "meadow", "comet", "breeze", "canyon", "glade", "dune")
# The meta key the seed's own transaction writes last: the demo is whole.
DEMO_META = "demo_seed"


@dataclass(frozen=True)
class DemoInfo:
    entity: str
    project: str
    api_key: str
    runs: int
    seeded: bool  # False when the store held the demo already


@dataclass(frozen=True)
class _DemoRun:
    """One run as the seed writes it: its fields, history and events."""

    project: str
    name: str
    fields: dict[str, Any]
    history: list[dict[str, Any]]
    events: list[dict[str, Any]]


def seed_demo(store: Store) -> DemoInfo:
    """Seed ``demo/mnist`` (and a private ``alice/secret``) unless present.

    One transaction, marked done in ``meta`` (``DEMO_META``) by its own
    commit: a seed killed part-way leaves nothing, and a second process
    seeding the same file waits for the first (BEGIN IMMEDIATE), then finds
    the mark. A demo left partial by an older version (no mark) is completed
    in place: each missing or incomplete demo run is written again.
    """
    done = _seeded(store)
    if done is not None:
        return done
    with store.transaction():
        done = _seeded(store)  # another process may have seeded while we waited
        if done is not None:
            return done
        demo_key = _write_demo(store)
        store.set_meta(DEMO_META, str(DEMO_RUNS))
    return DemoInfo(DEMO_ENTITY, DEMO_PROJECT, demo_key, DEMO_RUNS, seeded=True)


def _seeded(store: Store) -> DemoInfo | None:
    if store.get_meta(DEMO_META) is None:
        return None
    project = store.projects.find(DEMO_ENTITY, DEMO_PROJECT)
    user = store.users.by_name(DEMO_ENTITY)
    if project is None or user is None:
        return None  # removed since: seed again
    with store.lock:
        count = store.conn.execute(
            "SELECT count(*) FROM runs WHERE project_id=?", (project.id,)
        ).fetchone()[0]
    key = user.api_key or ""
    return DemoInfo(DEMO_ENTITY, DEMO_PROJECT, key, int(count), seeded=False)


def _write_demo(store: Store) -> str:
    """Write whatever of the demo the store lacks; returns the demo user's key."""
    rng = random.Random(SEED)
    demo_key = f"{rng.getrandbits(160):040x}"
    if store.users.by_name(DEMO_ENTITY) is None:
        store.users.create(
            DEMO_ENTITY, api_key=demo_key, name="Demo User", email="demo@example.com"
        )
    alice_key = f"{rng.getrandbits(160):040x}"
    if store.users.by_name("alice") is None:
        store.users.create("alice", api_key=alice_key, name="Alice", teams=["vision"])
    if store.projects.find(DEMO_ENTITY, DEMO_PROJECT) is None:
        store.projects.create(DEMO_ENTITY, DEMO_PROJECT, created_at=START)
    if store.projects.find("alice", "secret") is None:
        store.projects.create("alice", "secret", private=True, created_at=START)
    path = f"{DEMO_ENTITY}/{DEMO_PROJECT}"
    for i, (name, method, count) in enumerate(SWEEPS):
        store.projects.create_sweep(
            path,
            name,
            display_name=f"lr-{method}-{i + 1}",
            method=method,
            state="FINISHED",
            config=f"method: {method}\nmetric:\n  goal: minimize\n  name: loss\n"
            "parameters:\n  lr:\n    min: 0.0001\n    max: 0.1\n",
            best_loss=0.05 + 0.01 * i,
            run_count_expected=count,
            created_at=START + timedelta(days=3 + i),
            replace=True,
        )
    held = {
        path: store.runs.index(path),
        "alice/secret": store.runs.index("alice/secret"),
    }
    names: set[str] = set()
    for i in range(DEMO_RUNS):
        _put(store, held[path], _demo_run(rng, i, names))
    for i in range(3):
        history = [{"_step": s, "loss": 1.0 / (s + 1)} for s in range(10)]
        fields = {"user": "alice", "created_at": START}
        run = _DemoRun("alice/secret", f"secret{i:02d}", fields, history, [])
        _put(store, held["alice/secret"], run)
    return demo_key


def _put(store: Store, held: dict[str, RunIndexEntry], run: _DemoRun) -> None:
    """Add ``run`` unless the store holds it whole (an older partial seed)."""
    entry = held.get(run.name)
    if entry is not None:
        with store.lock:
            events = store.conn.execute(
                "SELECT count(*) FROM events WHERE run_id=?", (entry.id,)
            ).fetchone()[0]
        if entry.history_line_count == len(run.history) and events == len(run.events):
            return
        store.runs.delete(entry.id)
    storage_id = store.runs.add(run.project, run.name, **run.fields)
    if run.history:
        store.history.log(storage_id, run.history)
    if run.events:
        store.history.log_events(storage_id, run.events)


def _pick_state(rng: random.Random) -> str:
    r = rng.random()
    for state, share in STATES:
        if r < share:
            return state
        r -= share
    return "finished"


def _demo_run(rng: random.Random, i: int, names: set[str]) -> _DemoRun:
    """Run ``i`` of the demo, drawing from ``rng`` in the seed's fixed order."""
    name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    while name in names:
        name = name[::-1] + str(i)
    names.add(name)
    state = _pick_state(rng)
    sweep = None
    if i % 5 == 0 and i < 5 * SWEEPS[0][2]:
        sweep = SWEEPS[0][0]
    elif i % 5 == 1 and i < 5 * SWEEPS[1][2]:
        sweep = SWEEPS[1][0]
    lr = round(10 ** rng.uniform(-4, -1), 6)
    config: dict[str, Any] = {
        "lr": lr,
        "batch_size": rng.choice((32, 64, 128, 256)),
        "epochs": rng.choice((5, 10, 20)),
        "seed": i,
        "optimizer": {
            "name": rng.choice(("adam", "sgd", "adamw")),
            "betas": [0.9, 0.999],
            "weight_decay": rng.choice((0.0, 1e-4, 1e-2)),
        },
        "model": {
            "arch": rng.choice(("cnn", "mlp", "resnet")),
            "layers": rng.randint(2, 8),
            "hidden": rng.choice((64, 128, 256)),
            "dropout": rng.choice((0.0, 0.1, 0.3)),
        },
        "_wandb": {"cli_version": "0.18.0", "python_version": "3.11.7"},
    }
    # Mostly a few hundred steps; some long runs up to 2,000.
    steps = 0 if state == "pending" else min(2000, int(rng.paretovariate(1.2) * 120))
    created = START + timedelta(minutes=45 * i + rng.randint(0, 40))
    step_seconds = rng.uniform(0.2, 1.5)
    duration = timedelta(seconds=step_seconds * steps + rng.randint(5, 60))
    fields: dict[str, Any] = {  # drawn in this order: keep it
        "display_name": f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{i + 1}",
        "state": state,
        "config": config,
        "tags": sorted(rng.sample(TAGS, rng.randint(0, 3))),
        "group": rng.choice(GROUPS),
        "job_type": rng.choice(("train", "train", "eval")),
        "commit": f"{rng.getrandbits(40):010x}",
        "host": f"gpu-node-{rng.randint(1, 12):02d}",
        "notes": rng.choice((None, "", "first try", "with warmup")),
        "sweep": sweep,
        "user": DEMO_ENTITY,
        "created_at": created,
        "heartbeat_at": None if state == "pending" else created + duration,
    }
    if not steps:
        return _DemoRun(f"{DEMO_ENTITY}/{DEMO_PROJECT}", name, fields, [], [])
    history = _history(rng, steps, lr, state, created, step_seconds)
    events = _events(rng, steps, created, step_seconds)
    return _DemoRun(f"{DEMO_ENTITY}/{DEMO_PROJECT}", name, fields, history, events)


def _history(
    rng: random.Random,
    steps: int,
    lr: float,
    state: str,
    created: datetime,
    step_seconds: float,
) -> list[dict[str, Any]]:
    t0 = created.timestamp()
    rate = 1.5 + 40 * lr
    diverges_at = (
        rng.randint(steps // 2, steps) if state in ("crashed", "failed") else None
    )
    rows: list[dict[str, Any]] = []
    for s in range(steps):
        runtime = round(s * step_seconds, 3)
        loss = 2.3 * math.exp(-rate * s / steps) + rng.uniform(0, 0.05)
        if diverges_at is not None and s >= diverges_at:
            loss = math.nan
        row: dict[str, Any] = {
            "_step": s,
            "_runtime": runtime,
            "_timestamp": round(t0 + runtime, 3),
            "loss": loss,
            "lr": lr,
            "grad_norm": math.inf
            if rng.random() < 0.002
            else round(rng.uniform(0.1, 5), 4),
            "phase": "warmup" if s < steps // 10 else "train",
        }
        if s % 10 == 0:
            row["val.acc"] = round(
                min(0.99, 1 - loss / 2.5 + rng.uniform(-0.02, 0.02)), 4
            )
            row["val.loss"] = loss * 1.1
        if s == steps - 1:
            row["test.acc"] = row.get("val.acc", round(1 - loss / 2.5, 4))
            row["examples"] = {
                "_type": "image-file",
                "path": f"media/images/examples_{s}_{rng.getrandbits(32):08x}.png",
                "sha256": f"{rng.getrandbits(256):064x}",
                "size": rng.randint(800, 4000),
                "format": "png",
                "width": 28,
                "height": 28,
            }
        rows.append(row)
    return rows


def _events(
    rng: random.Random, steps: int, created: datetime, step_seconds: float
) -> list[dict[str, Any]]:
    total = steps * step_seconds
    count = max(2, min(60, int(total // 30)))
    t0 = created.timestamp()
    return [
        {
            "_timestamp": round(t0 + total * k / (count - 1), 3),
            "_runtime": round(total * k / (count - 1), 3),
            "system.cpu": round(rng.uniform(5, 95), 1),
            "system.memory_percent": round(rng.uniform(20, 80), 1),
            "system.gpu.0.gpu": round(rng.uniform(0, 100), 1),
            "system.gpu.0.memory": round(rng.uniform(0, 100), 1),
        }
        for k in range(count)
    ]
