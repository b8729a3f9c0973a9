"""Per-run Parquet exports of history, written on demand and cached, behind signed URLs.

W&B's newer SDKs (0.31) read a run's full history as Parquet files:
``Run.parquetHistory(liveKeys)`` answers ``parquetUrls`` (signed, expiring
links to files) and ``liveData`` (rows not yet exported). The SDK downloads
each file (or reads it with HTTP range requests when it asked for keys),
takes the rows of each page of steps from it, and fetches a page from
``history``/``sampledHistory`` only when the page reaches the first live step.

Here one file per run holds every row the store holds when it is asked for,
so ``liveData`` is always empty: the SDK's live query for a page reaching the
first live step asks ``history(minStep, maxStep)`` for the whole page, which
would return the exported rows of that page a second time. A file is cached
under the run's (row count, last step) and rewritten once the run's history
grows; its older version is removed then.

Columns: ``_step`` as int64 (with statistics per row group: the SDK selects
row groups by them), every other key as one column in the order keys first
appear; a column of booleans, integers, numbers (NaN/Infinity kept), strings
or nulls is typed as such; dicts and lists as Arrow structs and lists; a
column whose values mix kinds (a number at one step, a string at another) as
the JSON text of each value. A row that did not log a key holds null there.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import secrets
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runs_server.store import jsonrows

ROW_GROUP_ROWS = 10_000
DEFAULT_URL_TTL_S = 3600.0
_INT64 = (-(2**63), 2**63 - 1)


class ExportUnavailableError(RuntimeError):
    """Parquet exports need pyarrow (the server extra installs it)."""


@dataclass(frozen=True)
class ExportFile:
    """One cached export: its run, version (``<rows>-<last step>``) and path."""

    run_id: int
    version: str
    path: Path


def _column(values: list[Any]) -> Any:
    import pyarrow as pa

    kinds = {_kind(v) for v in values if v is not None}
    if not kinds:
        return pa.array(values, type=pa.null())
    if kinds == {"bool"}:
        return pa.array(values, type=pa.bool_())
    if kinds == {"int"} and all(
        v is None or _INT64[0] <= v <= _INT64[1] for v in values
    ):
        return pa.array(values, type=pa.int64())
    if kinds <= {"int", "float"}:
        return pa.array(
            [None if v is None else float(v) for v in values], type=pa.float64()
        )
    if kinds == {"str"}:
        return pa.array(values, type=pa.string())
    if kinds <= {"dict", "list"} and len(kinds) == 1:
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    # Mixed kinds: the JSON text of each value (bare NaN tokens, as stored).
    return pa.array(
        [None if v is None else jsonrows.dumps(v) for v in values], type=pa.string()
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict):
        return "dict" if value else "other"  # Arrow has no empty struct
    if isinstance(value, list):
        return "list"
    return "other"


def _rows(conn: sqlite3.Connection, run_id: int) -> Iterator[tuple[int, Any]]:
    cursor = conn.cursor()
    cursor.row_factory = None
    for step, text in cursor.execute(
        "SELECT step, row FROM history WHERE run_id=? ORDER BY step", (run_id,)
    ):
        yield int(step), jsonrows.loads(text)


def write_history_parquet(conn: sqlite3.Connection, run_id: int, path: Path) -> int:
    """Write every history row of run ``run_id`` to ``path``; returns the row count."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - the server extra installs pyarrow
        raise ExportUnavailableError(
            "Parquet history exports need pyarrow: pip install 'runs-client[server]'"
        ) from None
    steps: list[int] = []
    columns: dict[str, list[Any]] = {}
    for index, (step, row) in enumerate(_rows(conn, run_id)):
        steps.append(step)
        for key, value in row.items():
            if key == "_step":
                continue
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * index
            column.append(value)
        for column in columns.values():
            if len(column) <= index:
                column.append(None)
    arrays = [pa.array(steps, type=pa.int64())]
    names = ["_step"]
    for key, values in columns.items():
        arrays.append(_column(values))
        names.append(key)
    table = pa.Table.from_arrays(arrays, names=names)
    # Named per process: the workers of one server share the export folder.
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    pq.write_table(table, partial, row_group_size=ROW_GROUP_ROWS)
    os.replace(partial, path)  # readers never see a half-written file
    return len(steps)


class HistoryExports:
    """The export cache of one server: files in a private folder, signed links.

    A link names the run's storage id and the file's version and carries an
    expiry time and an HMAC-SHA256 signature of both made with a secret drawn
    when the server starts: whoever holds a link reads that file until the
    link expires (or the run's history grows), never longer, and no link can
    be forged or extended.
    """

    def __init__(
        self, folder: Path | None = None, *, url_ttl_s: float = DEFAULT_URL_TTL_S
    ) -> None:
        if folder is None:
            self._tmp: tempfile.TemporaryDirectory[str] | None = (
                tempfile.TemporaryDirectory(prefix="runs_server_exports_")
            )
            folder = Path(self._tmp.name)
        else:
            self._tmp = None
            folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.url_ttl_s = url_ttl_s
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def _path(self, run_id: int, version: str) -> Path:
        return self.folder / f"run-{run_id}-{version}.parquet"

    def ensure(
        self, conn: sqlite3.Connection, run_id: int, rows: int, last_step: int | None
    ) -> ExportFile:
        """The run's current export, written now unless cached.

        ``rows`` and ``last_step`` are the run's ``history_line_count`` and
        ``last_step``; the caller holds the store lock, so they match the rows
        written.
        """
        version = f"{rows}-{-1 if last_step is None else last_step}"
        path = self._path(run_id, version)
        with self._lock:
            if not path.exists():
                for old in self.folder.glob(f"run-{run_id}-*.parquet"):
                    old.unlink(missing_ok=True)
                write_history_parquet(conn, run_id, path)
        return ExportFile(run_id, version, path)

    def _signature(self, run_id: int, version: str, expires: int) -> str:
        message = f"{run_id}:{version}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def signed_path(self, export: ExportFile, now: float | None = None) -> str:
        """The URL path (with query) of a link to ``export`` valid for ``url_ttl_s``."""
        expires = math.ceil((time.time() if now is None else now) + self.url_ttl_s)
        sig = self._signature(export.run_id, export.version, expires)
        return (
            f"{EXPORT_PATH_PREFIX}{export.run_id}/{export.version}.parquet"
            f"?expires={expires}&signature={sig}"
        )

    def resolve(
        self, path: str, query: dict[str, str], now: float | None = None
    ) -> Path:
        """The file a link names, or ``LinkError`` saying why it is refused."""
        rest = path[len(EXPORT_PATH_PREFIX) :]
        run_text, _, file_name = rest.partition("/")
        version = file_name.removesuffix(".parquet")
        if (
            _NUMBER.fullmatch(run_text) is None
            or not file_name.endswith(".parquet")
            or not _valid_version(version)
        ):
            raise LinkError(404, "no such history export")
        expires_text = query.get("expires", "")
        if _NUMBER.fullmatch(expires_text) is None:
            raise LinkError(403, "the link has no valid expiry; ask for a new one")
        expires = int(expires_text)
        expected = self._signature(int(run_text), version, expires)
        # As bytes: compare_digest refuses str holding non-ASCII characters.
        sent = query.get("signature", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(expected.encode(), sent):
            raise LinkError(403, "the link's signature is not valid")
        if (time.time() if now is None else now) > expires:
            raise LinkError(
                403,
                "the link has expired; ask parquetHistory for a new one",
            )
        file = self._path(int(run_text), version)
        if not file.exists():
            raise LinkError(
                404,
                "this history export was replaced (the run logged more rows); "
                "ask parquetHistory for a new link",
            )
        return file


EXPORT_PATH_PREFIX = "/files/history/"


# ASCII digits only (str.isdigit also takes "²", which int() refuses), and
# no more than an int64 has: a link names nothing longer.
_NUMBER = re.compile(r"[0-9]{1,19}")
_VERSION = re.compile(r"[0-9]{1,19}--?[0-9]{1,19}")


def _valid_version(version: str) -> bool:
    return _VERSION.fullmatch(version) is not None


class LinkError(Exception):
    """A link refused: ``status`` (403 or 404) and a message saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
