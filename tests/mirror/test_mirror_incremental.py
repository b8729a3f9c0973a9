"""A second mirror fetches only what changed; killed mid-way, a rerun completes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runs_mirror import mirror_project
from runs_mirror.mirror import EXIT_AFTER_ENV, EXIT_CODE
from runs_server.store import Store
from tests.mirror.conftest import Source, snapshot

pytestmark = pytest.mark.e2e

DEMO = "demo/mnist"


def _plain_runs(store: Store, count: int) -> list[tuple[int, str, int]]:
    """Runs outside sweeps with history: (storage id, name, last step)."""
    rows = store.conn.execute(
        "SELECT id, name, last_step FROM runs WHERE project_id=1 AND "
        "sweep_name IS NULL AND last_step IS NOT NULL ORDER BY name LIMIT ?",
        (count,),
    ).fetchall()
    return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def test_second_mirror_fetches_only_what_changed() -> None:
    src = Source()
    try:
        copy = Store()
        with src.api() as api:
            mirror_project(api, DEMO, copy)
            again = mirror_project(api, DEMO, copy)
            assert (again.new, again.updated, again.unchanged) == (0, 0, 320)
            assert again.requests <= math.ceil(320 / 1000) + 2
            assert again.history_rows == again.event_rows == 0

            s = src.store
            (a, _, a_last), (b, _, b_last), (c, c_name, _), (d, d_name, _) = (
                _plain_runs(s, 4)
            )
            for i in range(2):  # two new runs, 50 rows each
                run = s.runs.add(DEMO, f"new{i}", user="demo", config={"i": i})
                s.history.log(run, [{"_step": k, "x": k * i} for k in range(50)])
            s.history.log(a, [{"_step": a_last + 1 + k, "loss": k} for k in range(7)])
            s.history.log(b, [{"_step": b_last + 5, "loss": math.nan}])
            s.runs.update(c, summary={"best": 1.0})
            s.runs.delete(d)

            kept = mirror_project(api, DEMO, copy)
            assert (kept.new, kept.updated, kept.unchanged) == (2, 3, 316)
            assert kept.gone == [d_name] and kept.pruned == 0
            # Only the new rows: 100 of the new runs, 7 + 1 appended ones.
            assert kept.history_rows == 108
            # The listing, the new runs' page, and one page per distinct first
            # step of the changed runs (a, b and c each resume elsewhere).
            assert kept.requests == 1 + 1 + 3
            assert "--prune" in kept.describe()
            theirs = snapshot(s, DEMO)
            ours = snapshot(copy, DEMO)
            assert ours["runs"].pop(d_name)
            assert ours == theirs

            pruned = mirror_project(api, DEMO, copy, prune=True)
            assert pruned.pruned == 1 and pruned.requests == 1
            assert snapshot(copy, DEMO) == theirs
            assert c_name in theirs["runs"]
    finally:
        src.close()


SCRIPT = """
import sys, runs_client
from runs_mirror import mirror_project
from runs_server.store import Store
url, key, db = sys.argv[1:4]
with runs_client.Api(api_key=key, base_url=url) as api, Store(db) as store:
    summary = mirror_project(api, "demo/mnist", store, row_budget=2000)
print(summary.new, summary.updated, summary.unchanged)
"""


def _run(
    source: Source, db: Path, exit_after: int | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != EXIT_AFTER_ENV}
    if exit_after is not None:
        env[EXIT_AFTER_ENV] = str(exit_after)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, source.url, source.key, str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.parametrize("stops", [[1], [3, 7], [12]])
def test_killed_mirror_rerun_equals_one_clean_sync(
    source: Source, tmp_path: Path, stops: list[int]
) -> None:
    db = tmp_path / "copy.db"
    for n in stops:
        killed = _run(source, db, n)
        assert killed.returncode == EXIT_CODE, killed.stderr[-2000:]
        with Store(db) as partial:
            held = len(snapshot(partial, DEMO)["runs"])
        assert 0 < held < 320 or n > 1  # a first stop leaves a partial copy
    done = _run(source, db, None)
    assert done.returncode == 0, done.stderr[-2000:]
    new, updated, unchanged = map(int, done.stdout.split())
    assert new + updated + unchanged == 320 and new < 320
    with Store(db) as copy:
        assert snapshot(copy, DEMO) == snapshot(source.store, DEMO)
