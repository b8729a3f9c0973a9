"""file_stream posts in any order of retries, overlaps and gaps store each
line once: compared with a plain model (a counter of lines taken per file).

The posts go straight to ``writes.file_stream.apply_post`` on a store (the
HTTP layer only reads bodies); a refused post must leave the store as it was.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runs_server.store import Store
from runs_server.writes import WriteError, buckets, file_stream

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TOTAL = 40  # lines the "SDK" has to send of each file
HISTORY = [f'{{"_step": {s}, "v": {s * 0.5}}}' for s in range(TOTAL)]
EVENTS = [f'{{"_timestamp": {1000 + s}, "cpu": {s}}}' for s in range(TOTAL)]
LINES = {file_stream.HISTORY: HISTORY, file_stream.EVENTS: EVENTS}

# One step of the "SDK": per file, how far back of what the server took the
# chunk starts (a retry or an overlap), or how far past it (a gap), and its size.
move = st.tuples(st.integers(-3, 6), st.integers(0, 8))
post = st.dictionaries(st.sampled_from(sorted(LINES)), move, min_size=1)


def _stored(store: Store, run: int) -> dict[str, list[str]]:
    conn = store.conn
    return {
        file_stream.HISTORY: [
            r[0]
            for r in conn.execute(
                "SELECT row FROM history WHERE run_id=? ORDER BY step", (run,)
            )
        ],
        file_stream.EVENTS: [
            r[0]
            for r in conn.execute(
                "SELECT row FROM events WHERE run_id=? ORDER BY seq", (run,)
            )
        ],
    }


@SETTINGS
@given(st.lists(post, max_size=25))
def test_each_line_is_stored_once_whatever_the_retries(
    posts: list[dict[str, tuple[int, int]]],
) -> None:
    store = Store()
    user = store.users.create("ada")
    run, _ = buckets.upsert_bucket(store, user, {"name": "r", "modelName": "p"})
    taken = dict.fromkeys(LINES, 0)  # the model
    for spec in posts:
        files: dict[str, Any] = {}
        chunks = {}
        for name, (back, count) in spec.items():
            offset = max(0, taken[name] - back)
            chunks[name] = (offset, LINES[name][offset : offset + count])
            files[name] = {"offset": offset, "content": chunks[name][1]}
        parsed = file_stream.parse_post(orjson.dumps({"files": files}))
        gap = any(offset > taken[name] for name, (offset, _) in chunks.items())
        before = _stored(store, run.id)
        try:
            file_stream.apply_post(store, run, parsed)
        except WriteError as exc:
            assert gap and exc.status == 409, exc
            assert _stored(store, run.id) == before  # all or nothing
            continue
        assert not gap
        for name, (offset, content) in chunks.items():
            taken[name] = max(taken[name], offset + len(content))
    stored = _stored(store, run.id)
    for name, lines in LINES.items():
        assert stored[name] == lines[: taken[name]], name
    store.close()
