"""``POST /files/{entity}/{project}/{run}/file_stream``: the SDK's lines, taken once.

A post names files, each with the line number (``offset``) of its first
line: ``wandb-history.jsonl`` (a JSON row per line), ``wandb-events.jsonl``
(system metrics), ``wandb-summary.json`` (the whole summary; the last line
wins) and ``output.log`` (console lines; a line sent again replaces the old
one). The store remembers how many lines of each file it took, so a retried
chunk (same offset) adds nothing twice and a chunk that would leave a gap is
refused (409: SDK 0.31 then stops streaming the run; ``wandb sync`` of its
folder completes it). History lines are also known by their ``_step``: one
at a step the run holds is a resend, taken once if it equals the stored row
(``_fresh_history``). A post's lines, state and heartbeat land in one
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from runs_server.store import Store, StoreError, StoreWriteError, jsonrows
from runs_server.writes.buckets import RunRef
from runs_server.writes.errors import WriteError
from runs_server.writes.limits import MAX_STREAM_FILES, MAX_STREAM_LINE_CHARS
from runs_server.writes.names import checked_file_name

HISTORY = "wandb-history.jsonl"
EVENTS = "wandb-events.jsonl"
SUMMARY = "wandb-summary.json"
CONSOLE = "output.log"
# Which stored rows each counted file's lines become (see Streams.next_offset).
_ROWS = {HISTORY: "history", EVENTS: "events", CONSOLE: "console"}
POST_FORM = (
    '{"files": {"wandb-history.jsonl": {"offset": 0, "content": ["{...}"]}}, '
    '"complete": false, "exitcode": null}'
)


@dataclass(frozen=True)
class Chunk:
    offset: int
    lines: list[str]


@dataclass(frozen=True)
class StreamPost:
    files: dict[str, Chunk]
    complete: bool
    exitcode: int | None


def _bad(message: str) -> WriteError:
    return WriteError(400, f"{message}; a file_stream post looks like {POST_FORM}")


def _chunk(name: str, value: Any) -> Chunk:
    if not isinstance(value, dict):
        raise _bad(f"files[{name!r}] must be an object with offset and content")
    offset = value.get("offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise _bad(
            f"files[{name!r}].offset must be a whole number >= 0, got {offset!r}"
        )
    lines = value.get("content", [])
    # Checked by C-level maps: a post may carry tens of thousands of lines.
    if not isinstance(lines, list) or not set(map(type, lines)) <= {str}:
        raise _bad(f"files[{name!r}].content must be a list of strings")
    if max(map(len, lines), default=0) <= MAX_STREAM_LINE_CHARS:
        return Chunk(offset, lines)
    for i, line in enumerate(lines):
        if len(line) > MAX_STREAM_LINE_CHARS:
            raise WriteError(
                413,
                f"line {offset + i} of {name} is {len(line):,} characters long; "
                f"a line may hold at most {MAX_STREAM_LINE_CHARS:,}: log less per step "
                "(save large values as files)",
            )
    return Chunk(offset, lines)


def parse_post(body: bytes) -> StreamPost:
    """The post in ``body``, or a 400/413 saying what is wrong with it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad("the body is not JSON") from None
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object")
    files = data.get("files") or {}
    if not isinstance(files, dict):
        raise _bad("files must be an object keyed by file name")
    if len(files) > MAX_STREAM_FILES:
        raise _bad(
            f"a post may name at most {MAX_STREAM_FILES} files, got {len(files)}"
        )
    chunks = {checked_file_name(name): _chunk(name, v) for name, v in files.items()}
    complete = data.get("complete", False)
    exitcode = data.get("exitcode")
    if not isinstance(complete, bool):
        raise _bad(f"complete must be true or false, got {complete!r}")
    if exitcode is not None and (
        isinstance(exitcode, bool) or not isinstance(exitcode, int)
    ):
        raise _bad(f"exitcode must be a whole number or null, got {exitcode!r}")
    return StreamPost(chunks, complete, exitcode)


def _take(store: Store, run: RunRef, name: str, chunk: Chunk) -> None:
    """Store the lines of ``chunk`` this run has not taken yet."""
    if name == SUMMARY:
        if chunk.lines:
            try:
                summary = jsonrows.loads(chunk.lines[-1])
            except ValueError:
                summary = None
            if not isinstance(summary, dict):
                raise _bad(f"the last line of {SUMMARY} must be a JSON object")
            store.upserts.update(run.id, {"summary_metrics": summary})
        return
    taken = store.streams.next_offset(run.id, name, _ROWS.get(name))
    if chunk.offset > taken:
        raise WriteError(
            409,
            f"{name}: a chunk at offset {chunk.offset} would leave lines "
            f"{taken}..{chunk.offset - 1} missing; send them first (this run has "
            f"taken {taken} lines of {name})",
        )
    end = chunk.offset + len(chunk.lines)
    if name == HISTORY:
        fresh = _fresh_history(store, run.id, chunk, taken)
    else:
        fresh = chunk.lines[taken - chunk.offset :]
    try:
        if name == CONSOLE:
            store.streams.put_console(run.id, chunk.offset, chunk.lines)
        elif name == HISTORY and fresh:
            store.history.log(run.id, fresh, update_summary=False)
        elif name == EVENTS and fresh:
            store.history.log_events(run.id, fresh)
    except StoreWriteError:
        raise  # the store's trouble (full, read-only, locked), not the post's
    except (StoreError, ValueError) as exc:
        raise _bad(f"{name}: {exc}") from None
    if end > taken:
        store.streams.set_offset(run.id, name, end)


def _step_of(line: str) -> int | None:
    """The ``_step`` of a history line (None: none, or not a whole number)."""
    try:
        row = jsonrows.loads(line)
    except ValueError:
        return None
    step = row.get("_step") if isinstance(row, dict) else None
    if isinstance(step, float) and step.is_integer():
        step = int(step)
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _same_row(a: str, b: str) -> bool:
    """The two row texts hold the same keys and values (in any order; the
    SDK's key order varies from send to send; NaN equal to NaN)."""
    try:
        x, y = jsonrows.loads(a), jsonrows.loads(b)
    except ValueError:
        return False
    return _sorted(x) == _sorted(y)


def _sorted(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


def _fresh_history(store: Store, run: int, chunk: Chunk, taken: int) -> list[str]:
    """The lines of a history chunk not stored yet.

    A line is identified by its ``_step``: the leading lines whose step the
    run already holds are sent again, by a retried request (at an offset
    before ``taken``) or by ``wandb sync`` replaying a run from its first row
    (at ``taken``, after a stream that stopped); each must equal the stored
    row, else the post is refused (409) as a conflict. Lines without a step
    fall back to offsets: those before ``taken`` were taken."""
    lines = chunk.lines
    last = store.history.last_step(run)
    skip = max(0, taken - chunk.offset)
    if last is None or not lines:
        return lines[skip:]
    first = _step_of(lines[0])
    if first is not None and first > last:  # the usual post: all new
        return lines
    held = 0  # leading lines at steps the run holds
    steps: list[int] = []
    while held < len(lines):
        step = _step_of(lines[held])
        if step is None or step > last:
            break
        steps.append(step)
        held += 1
    if held < len(lines) and _step_of(lines[held]) is None:
        held = max(held, skip)  # step-less lines: offsets decide
    if steps:
        stored = store.history.texts(run, min(steps), max(steps))
        for i, step in enumerate(steps):
            if i < skip:
                continue  # taken by offset: a retried request's own lines
            if step not in stored or not _same_row(stored[step], lines[i]):
                held_as = "holds as a different row" if step in stored else "passed"
                raise WriteError(
                    409,
                    f"{HISTORY}: line {chunk.offset + i} has step {step}, which "
                    f"this run {held_as} (its last step is {last}); a line sent "
                    "again must equal the stored row, and new steps must increase",
                )
    return lines[held:]


def apply_post(store: Store, run: RunRef, post: StreamPost) -> dict[str, Any]:
    """Take ``post`` into run ``run`` in one transaction; the SDK's reply."""
    with store.transaction():
        for name, chunk in post.files.items():
            _take(store, run, name, chunk)
        if post.complete:
            store.streams.finish(run.id, 0 if post.exitcode is None else post.exitcode)
        else:
            store.streams.heartbeat(run.id, revive=True)
        stopped = store.streams.stop_requested(run.id)
    reply: dict[str, Any] = {"exitcode": None, "limits": {}}
    if stopped:
        reply["stopped"] = True
    return reply
