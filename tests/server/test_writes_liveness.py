"""Runs whose heartbeats stopped read as crashed; a post revives them."""

from __future__ import annotations

from runs_server.store import Store
from runs_server.writes import buckets
from runs_server.writes.liveness import CHECK_EVERY_S, Liveness


def test_silent_streamed_runs_crash_and_loaded_runs_keep_their_state() -> None:
    store = Store()
    user = store.users.create("ada")
    streamed, _ = buckets.upsert_bucket(store, user, {"name": "s", "modelName": "p"})
    store.streams.heartbeat(streamed.id, revive=True)
    loaded = store.runs.add("ada/p", "l", state="running", heartbeat_at="2020-01-01")
    liveness = Liveness(store, crash_after_s=-3600)  # every heartbeat is old
    assert liveness.check(now=0.0) == 1
    assert liveness.check(now=CHECK_EVERY_S / 2) == 0  # not due yet
    states = dict(store.conn.execute("SELECT name, state FROM runs").fetchall())
    assert states == {"s": "crashed", "l": "running"}
    assert loaded
    store.streams.heartbeat(streamed.id, revive=True)  # the process is back
    assert (
        store.conn.execute("SELECT state FROM runs WHERE name='s'").fetchone()[0]
        == "running"
    )
    store.streams.finish(streamed.id, 0)
    assert Liveness(store, crash_after_s=-3600).check(now=0.0) == 0
