"""GET/HEAD of the history exports that ``Run.parquetHistory`` links to:
signed links, whole files or one byte range."""

from __future__ import annotations

import re

from runs_server.history import HistoryExports, LinkError
from runs_server.http.replies import Reply, error_reply

PARQUET_TYPE = b"application/vnd.apache.parquet"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def serve_export(
    exports: HistoryExports,
    path: str,
    query: dict[str, str],
    method: str,
    range_header: str | None,
) -> Reply:
    """A history export named by a signed link, whole or one byte range."""
    try:
        file = exports.resolve(path, query)
        data = file.read_bytes()
    except LinkError as exc:
        return error_reply(exc.status, str(exc))
    except FileNotFoundError:  # replaced between the check and the read
        return error_reply(404, "this history export was replaced; ask again")
    size = len(data)
    headers = [(b"content-type", PARQUET_TYPE), (b"accept-ranges", b"bytes")]
    status, body = 200, data
    if range_header is not None:
        span = byte_range(range_header, size)
        if span is None:
            return Reply(
                416,
                b"",
                [(b"content-range", f"bytes */{size}".encode()), *headers],
            )
        start, end = span
        status, body = 206, data[start : end + 1]
        headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
    if method == "HEAD":
        return Reply(status, b"", headers, content_length=len(body))
    return Reply(status, body, headers)


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte of one ``Range: bytes=a-b`` (inclusive), clamped;
    None when it cannot be satisfied (several ranges are not served)."""
    found = _RANGE.fullmatch(header.strip())
    if found is None or size == 0:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        return max(size - int(last), 0), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start > end:
        return None
    return start, end
