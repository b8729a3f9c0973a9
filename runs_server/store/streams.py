"""What the write path keeps beside a run's rows: file_stream offsets, console
lines, heartbeats, exit codes and stop requests (``store.streams``).

Each method joins the caller's ``store.transaction()`` when one is open, so a
file_stream request's offsets, rows and state land together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from runs_server.store.database import Database
from runs_server.store.errors import StoreError
from runs_server.store.timeutil import now_iso

_ROW_COUNTS = {
    "history": "SELECT history_line_count FROM runs WHERE id=?",
    "events": "SELECT count(*) FROM events WHERE run_id=?",
    "console": "SELECT max(line) + 1 FROM console_lines WHERE run_id=?",
}


class Streams:
    """Offsets, console lines and run controls: ``store.streams``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def next_offset(self, run: int, file: str, rows: str | None = None) -> int:
        """How many lines of ``file`` run ``run`` took: where its next chunk
        starts. A run that never streamed ``file`` (loaded, or written before
        layout 5) starts after the rows it holds: ``rows`` names them
        (``"history"``, ``"events"`` or ``"console"``), as the SDK resumes
        from ``historyLineCount``, ``eventsLineCount`` and ``logLineCount``."""
        with self._db.transaction() as c:
            row = c.execute(
                "SELECT next_offset FROM stream_offsets WHERE run_id=? AND file=?",
                (run, file),
            ).fetchone()
            if row is not None:
                return int(row[0])
            if rows is None:
                return 0
            count = c.execute(_ROW_COUNTS[rows], (run,)).fetchone()
        return 0 if count is None or count[0] is None else int(count[0])

    def set_offset(self, run: int, file: str, next_offset: int) -> None:
        with self._db.transaction() as c:
            c.execute(
                "INSERT INTO stream_offsets (run_id, file, next_offset) "
                "VALUES (?, ?, ?) ON CONFLICT(run_id, file) "
                "DO UPDATE SET next_offset=excluded.next_offset",
                (run, file, next_offset),
            )

    def put_console(self, run: int, first_line: int, lines: Sequence[str]) -> None:
        """Store console lines from ``first_line`` on; a line sent again (the
        SDK rewrites lines a carriage return or progress bar changed) replaces
        the earlier text."""
        with self._db.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO console_lines (run_id, line, text) "
                "VALUES (?, ?, ?)",
                [(run, first_line + i, text) for i, text in enumerate(lines)],
            )

    def console(self, run: int) -> list[str]:
        """The run's console output, line by line."""
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT text FROM console_lines WHERE run_id=? ORDER BY line", (run,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def heartbeat(self, run: int, *, revive: bool) -> None:
        """The logging process is alive: ``heartbeat_at`` is now. With
        ``revive`` a run marked crashed (its heartbeats had stopped) is running
        again, as on W&B when a process comes back."""
        now = now_iso()
        with self._db.transaction() as c:
            # The control row marks a run the write path streams into: only
            # such runs are marked crashed when their heartbeats stop.
            c.execute("INSERT OR IGNORE INTO run_controls (run_id) VALUES (?)", (run,))
            c.execute(
                "UPDATE runs SET heartbeat_at=?, updated_at=?, state=CASE "
                "WHEN ? AND state='crashed' THEN 'running' ELSE state END WHERE id=?",
                (now, now, int(revive), run),
            )

    def finish(self, run: int, exitcode: int) -> None:
        """The process ended: finished for exit code 0; else killed if a stop
        was asked for (W&B's "forcibly stopped"), failed otherwise."""
        now = now_iso()
        with self._db.transaction() as c:
            asked = c.execute(
                "SELECT stop_requested FROM run_controls WHERE run_id=?", (run,)
            ).fetchone()
            stopped = asked is not None and bool(asked[0])
            state = "finished" if exitcode == 0 else "killed" if stopped else "failed"
            cur = c.execute(
                "UPDATE runs SET state=?, heartbeat_at=?, updated_at=? WHERE id=?",
                (state, now, now, run),
            )
            if cur.rowcount == 0:
                raise StoreError(f"no run with storage id {run}")
            c.execute(
                "INSERT INTO run_controls (run_id, exitcode) VALUES (?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET exitcode=excluded.exitcode",
                (run, exitcode),
            )

    def request_stop(self, run: int) -> None:
        """Ask the logging process to stop run ``run`` (``RunStoppedStatus``)."""
        with self._db.transaction() as c:
            c.execute(
                "INSERT INTO run_controls (run_id, stop_requested) VALUES (?, 1) "
                "ON CONFLICT(run_id) DO UPDATE SET stop_requested=1",
                (run,),
            )

    def stop_requested(self, run: int) -> bool:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT stop_requested FROM run_controls WHERE run_id=?", (run,)
            ).fetchone()
        return row is not None and bool(row[0])

    def mark_crashed(self, heartbeat_before: str) -> int:
        """Runs still ``running`` whose last heartbeat is older than
        ``heartbeat_before`` (zone-less UTC ISO) become ``crashed``, as W&B
        marks a run whose process stopped reporting; returns how many. Only
        runs that streamed (``heartbeat``) count: loaded runs keep their state."""
        with self._db.transaction() as c:
            cur = c.execute(
                "UPDATE runs SET state='crashed' WHERE state='running' "
                "AND coalesce(heartbeat_at, created_at) < ? "
                "AND id IN (SELECT run_id FROM run_controls)",
                (heartbeat_before,),
            )
        return cur.rowcount
