"""Files runs save (``wandb.save``, config.yaml, output.log...): ``store.files``.

A file is declared when the SDK asks for its upload link (``createRunFiles``)
and holds its bytes once they are PUT; a later PUT replaces them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from runs_server.store.database import Database
from runs_server.store.errors import StoreError
from runs_server.store.timeutil import now_iso


@dataclass(frozen=True)
class RunFile:
    id: int
    run_id: int
    name: str
    size_bytes: int
    md5: str | None
    updated_at: str
    uploaded: bool


_SELECT = (
    "SELECT id, run_id, name, size_bytes, md5, updated_at, "
    "content IS NOT NULL AS uploaded FROM run_files "
)


def _file(row: Sequence[object]) -> RunFile:
    return RunFile(
        int(row[0]),  # type: ignore[call-overload]
        int(row[1]),  # type: ignore[call-overload]
        str(row[2]),
        int(row[3]),  # type: ignore[call-overload]
        None if row[4] is None else str(row[4]),
        str(row[5]),
        bool(row[6]),
    )


class RunFiles:
    """Run files and their bytes: ``store.files``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def declare(self, run: int, names: Sequence[str]) -> list[RunFile]:
        """Files ``names`` of run ``run``, created (empty) where missing."""
        now = now_iso()
        with self._db.transaction() as c:
            if c.execute("SELECT 1 FROM runs WHERE id=?", (run,)).fetchone() is None:
                raise StoreError(f"no run with storage id {run}")
            c.executemany(
                "INSERT OR IGNORE INTO run_files (run_id, name, updated_at) "
                "VALUES (?, ?, ?)",
                [(run, name, now) for name in names],
            )
            found = {
                str(r[2]): _file(r)
                for r in c.execute(_SELECT + "WHERE run_id=?", (run,)).fetchall()
            }
        return [found[name] for name in names]

    def put(self, run: int, name: str, content: bytes) -> RunFile:
        """Store the bytes of file ``name`` of run ``run`` (declared or not)."""
        md5 = base64.b64encode(hashlib.md5(content).digest()).decode()
        now = now_iso()
        with self._db.transaction() as c:
            if c.execute("SELECT 1 FROM runs WHERE id=?", (run,)).fetchone() is None:
                raise StoreError(f"no run with storage id {run}")
            c.execute(
                "INSERT INTO run_files (run_id, name, content, size_bytes, md5, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, name) "
                "DO UPDATE SET content=excluded.content, "
                "size_bytes=excluded.size_bytes, md5=excluded.md5, "
                "updated_at=excluded.updated_at",
                (run, name, content, len(content), md5, now),
            )
            row = c.execute(
                _SELECT + "WHERE run_id=? AND name=?", (run, name)
            ).fetchone()
        return _file(row)

    def content(self, run: int, name: str) -> bytes | None:
        """The bytes of an uploaded file; None when missing or not uploaded."""
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT content FROM run_files WHERE run_id=? AND name=?", (run, name)
            ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def list(self, run: int) -> list[RunFile]:
        """The run's uploaded files, by name."""
        with self._db.lock:
            rows = self._db.conn.execute(
                _SELECT + "WHERE run_id=? AND content IS NOT NULL ORDER BY name",
                (run,),
            ).fetchall()
        return [_file(r) for r in rows]
