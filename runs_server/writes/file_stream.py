"""``POST /files/{entity}/{project}/{run}/file_stream``: the SDK's lines, taken once.

A post names files, each with the line number (``offset``) of its first
line: ``wandb-history.jsonl`` (a JSON row per line), ``wandb-events.jsonl``
(system metrics), ``wandb-summary.json`` (the whole summary; the last line
wins) and ``output.log`` (console lines; a line sent again replaces the old
one). The store remembers how many lines of each file it took, so a retried
chunk (same offset) adds nothing twice and a chunk that would leave a gap is
refused; a post's lines, state and heartbeat land in one transaction.
"""

from __future__ import annotations

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
