"""History lines sent again are known by their ``_step``: a ``wandb sync``
replay from the first row after a stream that stopped (at the offset the
server holds), a retried chunk, a resumed stream whose offsets run behind the
server's. What is held is not stored twice; a resent step with another row is
refused (409) and nothing of the post is kept."""

from __future__ import annotations

import json

import orjson

from tests.server.test_writes_http import Served, history, rows, served

__all__ = ["served"]  # the fixture, used by name


def _steps(served: Served) -> list[tuple[int, float]]:
    got = [orjson.loads(r) for r in served.read()["history"]]
    return [(r["_step"], r["loss"]) for r in got]


def _model(stop: int) -> list[tuple[int, float]]:
    return [(s, 1 / (s + 1)) for s in range(stop)]


def test_a_replay_from_the_first_row_stores_only_the_rest(served: Served) -> None:
    served.create()
    assert served.stream(history(rows(0, 3), 0)).status_code == 200
    # wandb sync: the server's line count as offset, the run from step 0,
    # keys in another order (wandb-core's order varies from send to send).
    replay = [json.dumps(dict(reversed(json.loads(r).items()))) for r in rows(0, 5)]
    assert served.stream(history(replay, 3)).status_code == 200
    assert served.stream(history(rows(5, 7), 8)).status_code == 200  # its next
    assert _steps(served) == _model(7)
    assert served.read()["historyLineCount"] == 7


def test_a_resent_step_with_another_row_is_refused(served: Served) -> None:
    served.create()
    assert served.stream(history(rows(0, 3), 0)).status_code == 200
    changed = rows(0, 5)
    changed[1] = '{"_step": 1, "loss": 7}'
    response = served.stream(history(changed, 3))
    assert response.status_code == 409
    message = response.json()["errors"][0]["message"]
    assert "line 4 has step 1" in message and "different row" in message
    assert _steps(served) == _model(3)


def test_a_stream_behind_the_servers_offset_stores_its_new_steps(
    served: Served,
) -> None:
    served.create()
    assert served.stream(history(rows(0, 3), 0)).status_code == 200
    assert served.stream(history(rows(0, 5), 3)).status_code == 200  # offset now 8
    # A resume starts at historyLineCount (5), before the offset taken (8):
    # its lines are new steps, so they are stored, not skipped as an overlap.
    assert served.stream(history(rows(5, 9), 5)).status_code == 200
    assert _steps(served) == _model(9)
    # ... and a retry of that chunk adds nothing.
    assert served.stream(history(rows(5, 9), 5)).status_code == 200
    assert _steps(served) == _model(9)
