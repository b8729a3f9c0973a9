"""GET/HEAD of the history exports that ``Run.parquetHistory`` links to:
signed links, whole files or one byte range, streamed from disk.

Ranges follow RFC 9110 section 14: one ``bytes=first-last`` range, the end
clamped to the file; a range that cannot be satisfied (it starts past the
end, or is the empty suffix ``bytes=-0``) answers 416 with
``Content-Range: bytes */size``. Numbers of any length are read as numbers
(a 5,000-digit one is simply past the end), never a 500.
"""

from __future__ import annotations

import os
import re

from runs_server.history import HistoryExports, LinkError
from runs_server.http.replies import FileBody, Reply, error_reply

PARQUET_TYPE = b"application/vnd.apache.parquet"
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
# More digits than any file offset has (2**63 has 19): past any end.
_MAX_DIGITS = 19


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
        handle = open(file, "rb")  # noqa: SIM115 - closed once the reply is sent
    except LinkError as exc:
        return error_reply(exc.status, str(exc))
    except FileNotFoundError:  # replaced between the check and the open
        return error_reply(404, "this history export was replaced; ask again")
    # The open file stays readable even if a newer export replaces it now.
    size = os.fstat(handle.fileno()).st_size
    headers = [(b"content-type", PARQUET_TYPE), (b"accept-ranges", b"bytes")]
    status, start, length = 200, 0, size
    if range_header is not None:
        span = byte_range(range_header, size)
        if span is None:
            handle.close()
            return Reply(
                416, b"", [(b"content-range", f"bytes */{size}".encode()), *headers]
            )
        start, end = span
        status, length = 206, end - start + 1
        headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
    if method == "HEAD":
        handle.close()
        return Reply(status, b"", headers, content_length=length)
    return Reply(
        status,
        b"",
        headers,
        content_length=length,
        file=FileBody(handle, start, length),
    )


def _number(digits: str) -> int:
    """A range bound; any run of more than 19 digits is past every file's end."""
    return int(digits) if len(digits) <= _MAX_DIGITS else 2**63


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte of one ``Range: bytes=a-b`` (inclusive), clamped;
    None when it cannot be satisfied (several ranges are not served)."""
    found = _RANGE.fullmatch(header.strip())
    if found is None or size == 0:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes; N = 0 selects nothing (RFC 9110: 416)
        count = _number(last)
        if count == 0:
            return None
        return max(size - count, 0), size - 1
    start = _number(first)
    end = size - 1 if not last else min(_number(last), size - 1)
    if start > end:
        return None
    return start, end
