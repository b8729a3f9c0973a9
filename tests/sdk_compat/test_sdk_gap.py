"""What SDK 0.31 does when runs_server refuses a gap in file_stream offsets
(409), and how the run is made whole again.

A gap reaches the server only when it lost a post it had answered 200 (a
store restored from a backup, say). Here a wrapper around the app answers
200 to one history post without storing it. The next post then starts past
the lines the run holds, and the server refuses it with 409. wandb-core
takes 409 as final: it stops streaming for the rest of the run (no retry, no
resend; the script still ends with exit code 0), so the run keeps a gap-free
prefix of its rows and stays ``running``. ``wandb sync --no-skip-online`` of
the run folder then resends the run: its first post starts at the line count
the server reports and replays the history from the first row, so the rows
the run holds come again; the server takes those as resends (same step, same
row) and stores only the rest. The run ends ``finished`` with every logged
step exactly once.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from runs_server.http.app import RunsServerApp
from runs_server.http.asgi import Receive, Scope, Send
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.sdk_compat.test_sdk_writes import SDKS, sdk_env

SCRIPT = Path(__file__).with_name("sdk_kill_workflow.py")  # logs steps slowly
STEPS = 1500
LOSE = 2  # the history post the server "loses" (answers 200, stores nothing)


class LosingApp:
    """The app, but the ``LOSE``-th file_stream post carrying history is
    answered 200 and dropped; every file_stream post is recorded."""

    def __init__(self, app: RunsServerApp) -> None:
        self.app = app
        self.connections = app.connections
        self.config = app.config
        self.posts: list[dict[str, Any]] = []  # offset, lines, status, complete
        self._history_posts = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/file_stream"):
            await self.app(scope, receive, send)
            return
        parts = []
        for _ in range(100_000):  # bounded: a post is a few MB at most
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(parts)
        data = orjson.loads(body)
        history = (data.get("files") or {}).get("wandb-history.jsonl")
        post = {
            "offset": history["offset"] if history else None,
            "lines": len(history["content"]) if history else 0,
            "first_step": (
                json.loads(history["content"][0])["_step"]
                if history and history["content"]
                else None
            ),
            "complete": data.get("complete"),
        }
        self.posts.append(post)
        if history:
            self._history_posts += 1
            if self._history_posts == LOSE:
                post["status"] = "lost"
                headers = [(b"content-type", b"application/json")]
                await send(
                    {"type": "http.response.start", "status": 200, "headers": headers}
                )
                await send(
                    {"type": "http.response.body", "body": b'{"exitcode": null}'}
                )
                return
        given = False

        async def replay() -> dict[str, Any]:
            nonlocal given
            if given:
                return await receive()
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                post["status"] = message["status"]
            await send(message)

        await self.app(scope, replay, record)


def _stored(store: Store) -> tuple[str, list[dict[str, Any]]]:
    state = store.conn.execute("SELECT state FROM runs WHERE name='survivor'")
    rows = store.conn.execute("SELECT row FROM history ORDER BY step")
    return str(state.fetchone()[0]), [json.loads(r[0]) for r in rows]


def test_a_refused_gap_stops_the_stream_and_sync_completes_the_run(
    tmp_path: Path,
) -> None:
    python = SDKS["0.31"]
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make sdk31-venv` (make test does)")
    store = Store(tmp_path / "runs.db")
    store.users.create("demo")
    app = LosingApp(RunsServerApp(store))
    env = sdk_env(tmp_path / "home", "", "0.31")
    with BackgroundServer(app) as server:  # type: ignore[arg-type]
        env["WANDB_BASE_URL"] = server.url
        logged = subprocess.run(
            [str(python), str(SCRIPT), str(STEPS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert logged.returncode == 0, logged.stderr[-3000:]
        assert logged.stdout.strip().endswith("done")
        streamed = [p for p in app.posts if p["lines"]]
        lost = next(i for i, p in enumerate(streamed) if p["status"] == "lost")
        refused = streamed[lost + 1]
        # The post after the lost one starts past the rows the run holds: 409.
        assert refused["status"] == 409
        assert refused["offset"] == streamed[lost]["offset"] + streamed[lost]["lines"]
        # wandb-core sent nothing after the 409: not even the closing post.
        assert app.posts[-1] is refused
        state, rows = _stored(store)
        assert state == "running"
        held = streamed[lost]["offset"]
        assert [r["_step"] for r in rows] == list(range(held))  # a prefix, once

        run_dir = next((tmp_path / "home" / "wandb").glob("run-*-survivor"))
        app.posts.clear()
        synced = subprocess.run(
            [str(python), "-m", "wandb", "sync", "--no-skip-online", str(run_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert synced.returncode == 0, (synced.stdout + synced.stderr)[-3000:]
    # The replay starts at the server's line count with the run's first rows.
    replayed = next(p for p in app.posts if p["lines"])
    assert (replayed["offset"], replayed["first_step"]) == (held, 0)
    assert all(p["status"] == 200 for p in app.posts)
    assert app.posts[-1]["complete"] is True
    state, rows = _stored(store)
    store.close()
    assert state == "finished"
    assert [(r["_step"], r["loss"], r["step_sq"]) for r in rows] == [
        (s, 1.0 / (s + 1), s * s) for s in range(STEPS)
    ]
